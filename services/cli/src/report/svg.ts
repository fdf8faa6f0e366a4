/**
 * HTML escaping and the report's charts: inline SVG drawn here, so the report
 * needs no script and no library when it is read.
 */

const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text or an attribute value, safe anywhere in HTML or SVG content (and quoted attributes). */
export function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** A number for SVG coordinates: finite, two decimals at most. */
const n = (v: number): string => (Number.isFinite(v) ? String(Math.round(v * 100) / 100) : '0');

export interface Series {
  label: string;
  color: string;
  /** x: ms since the epoch; y: value. */
  points: readonly { x: number; y: number }[];
  /** Drawn dashed (thinner), e.g. category scores under the total. */
  dashed?: boolean;
}

export interface LineChartOptions {
  width?: number;
  height?: number;
  yMin?: number;
  yMax?: number;
  /** Accessible title. */
  title: string;
  /** The x range (ms); default the points' range. */
  xFrom?: number;
  xTo?: number;
}

const pad = { left: 44, right: 16, top: 16, bottom: 34 };

/** A line chart of time series with axes, grid, tick labels (UTC) and a legend. */
export function lineChart(series: readonly Series[], options: LineChartOptions): string {
  const width = options.width ?? 760;
  const height = options.height ?? 260;
  const yMin = options.yMin ?? 0;
  const yMax = options.yMax ?? 100;
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  let x0 = options.xFrom ?? Math.min(...xs);
  let x1 = options.xTo ?? Math.max(...xs);
  if (!Number.isFinite(x0) || !Number.isFinite(x1)) [x0, x1] = [0, 1];
  if (x1 <= x0) [x0, x1] = [x0 - 3_600_000, x0 + 3_600_000];
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const sx = (x: number): number => pad.left + ((x - x0) / (x1 - x0)) * plotW;
  const sy = (y: number): number => pad.top + (1 - (Math.min(yMax, Math.max(yMin, y)) - yMin) / (yMax - yMin)) * plotH;
  const out: string[] = [];
  out.push(
    `<svg class="chart line-chart" role="img" aria-label="${esc(options.title)}" viewBox="0 0 ${width} ${height}" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">`,
    `<title>${esc(options.title)}</title>`,
  );
  // Grid and y labels.
  for (let i = 0; i <= 4; i++) {
    const v = yMin + ((yMax - yMin) * i) / 4;
    const y = sy(v);
    out.push(
      `<line class="grid" x1="${pad.left}" x2="${width - pad.right}" y1="${n(y)}" y2="${n(y)}"/>`,
      `<text class="tick" x="${pad.left - 6}" y="${n(y + 4)}" text-anchor="end">${esc(Math.round(v))}</text>`,
    );
  }
  // x labels: five ticks over the range.
  const span = x1 - x0;
  for (let i = 0; i <= 4; i++) {
    const t = x0 + (span * i) / 4;
    const label = span > 2 * 86_400_000 ? isoDay(t) : span > 600_000 ? isoMinute(t).slice(5) : isoSecond(t).slice(11);
    const anchor = i === 0 ? 'start' : i === 4 ? 'end' : 'middle';
    out.push(
      `<text class="tick" x="${n(sx(t))}" y="${height - pad.bottom + 16}" text-anchor="${anchor}">${esc(label)}</text>`,
    );
  }
  out.push(
    `<line class="axis" x1="${pad.left}" x2="${pad.left}" y1="${pad.top}" y2="${height - pad.bottom}"/>`,
    `<line class="axis" x1="${pad.left}" x2="${width - pad.right}" y1="${height - pad.bottom}" y2="${height - pad.bottom}"/>`,
  );
  for (const s of series) {
    const points = [...s.points].sort((a, b) => a.x - b.x);
    if (points.length === 0) continue;
    const d = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${n(sx(p.x))},${n(sy(p.y))}`).join(' ');
    out.push(
      `<path class="series${s.dashed ? ' dashed' : ''}" data-series="${esc(s.label)}" data-points="${points.length}" d="${d}" fill="none" stroke="${esc(s.color)}" stroke-width="${s.dashed ? 1.2 : 2.4}"${s.dashed ? ' stroke-dasharray="4 3"' : ''}/>`,
    );
    if (!s.dashed) {
      for (const p of points.length <= 60 ? points : [points[points.length - 1]!]) {
        out.push(
          `<circle class="point" cx="${n(sx(p.x))}" cy="${n(sy(p.y))}" r="3" fill="${esc(s.color)}"><title>${esc(
            `${isoSecond(p.x)} UTC: ${p.y.toFixed(1)}`,
          )}</title></circle>`,
        );
      }
    }
  }
  out.push('</svg>');
  const legend = series
    .map(
      (s) =>
        `<span class="key"><svg width="18" height="8" aria-hidden="true"><line x1="0" x2="18" y1="4" y2="4" stroke="${esc(s.color)}" stroke-width="${s.dashed ? 1.2 : 2.4}"${s.dashed ? ' stroke-dasharray="4 3"' : ''}/></svg>${esc(s.label)}</span>`,
    )
    .join(' ');
  return `<figure class="figure">${out.join('')}<figcaption class="legend">${legend}</figcaption></figure>`;
}

export interface Bar {
  label: string;
  value: number;
  color?: string;
  /** Shown after the bar; default the value. */
  text?: string;
}

/** Horizontal bars, one per row, scaled to `max` (default the largest value). */
export function barChart(bars: readonly Bar[], options: { title: string; max?: number; width?: number }): string {
  const width = options.width ?? 760;
  const labelW = 250;
  const row = 22;
  const height = Math.max(1, bars.length) * row + 8;
  const max = options.max ?? Math.max(1, ...bars.map((b) => b.value));
  const plotW = width - labelW - 70;
  const out = [
    `<svg class="chart bar-chart" role="img" aria-label="${esc(options.title)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">`,
    `<title>${esc(options.title)}</title>`,
  ];
  bars.forEach((b, i) => {
    const y = 4 + i * row;
    const w = Math.max(0, (b.value / max) * plotW);
    const label = b.label.length > 40 ? `${b.label.slice(0, 39)}…` : b.label;
    out.push(
      `<text class="label" x="${labelW - 8}" y="${y + 15}" text-anchor="end">${esc(label)}</text>`,
      `<rect class="bar" x="${labelW}" y="${y + 3}" width="${n(w)}" height="${row - 8}" rx="2" fill="${esc(b.color ?? '#3b6fb6')}"/>`,
      `<text class="value" x="${n(labelW + w + 6)}" y="${y + 15}">${esc(b.text ?? String(b.value))}</text>`,
    );
  });
  out.push('</svg>');
  return `<figure class="figure">${out.join('')}</figure>`;
}

const iso = (ms: number): string => new Date(ms).toISOString();
export const isoDay = (ms: number): string => iso(ms).slice(0, 10);
export const isoMinute = (ms: number): string => iso(ms).slice(0, 16).replace('T', ' ');
export const isoSecond = (ms: number): string => iso(ms).slice(0, 19).replace('T', ' ');
