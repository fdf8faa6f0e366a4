/**
 * A small YAML writer for the provisioning files: block mappings and sequences,
 * scalars as JSON (a JSON string is a valid YAML double-quoted scalar), so what
 * Grafana reads is exactly the data given.
 */
export function toYaml(value: unknown, indent = 0): string {
  return `${block(value, indent).replace(/^\n/, '')}\n`;
}

function block(value: unknown, indent: number): string {
  const pad = ' '.repeat(indent);
  if (Array.isArray(value)) {
    if (value.length === 0) return ' []';
    return value
      .map((item) => {
        const inner = block(item, indent + 2);
        // "- key: v" on the dash's line for a mapping; a scalar follows the dash.
        return isBlock(item) ? `\n${pad}- ${inner.trimStart()}` : `\n${pad}-${inner}`;
      })
      .join('');
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return ' {}';
    return entries.map(([k, v]) => `\n${pad}${key(k)}:${block(v, indent + 2)}`).join('');
  }
  return ` ${scalar(value)}`;
}

const isBlock = (v: unknown): boolean =>
  v !== null && typeof v === 'object' && (Array.isArray(v) ? v.length > 0 : Object.keys(v).length > 0);

const key = (k: string): string => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? k : JSON.stringify(k));

function scalar(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(typeof v === 'string' ? v : JSON.stringify(v));
}
