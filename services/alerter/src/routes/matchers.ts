import { SEVERITIES, type Finding, type Severity } from '@aispm/core';
import { MATCH_LABELS, type MatchLabel, type Matcher, type MatchOp } from './types.ts';

const SYNTAX = /^\s*([a-z_]+)\s*(=~|!~|!=|>=|<=|=)\s*(.*?)\s*$/s;
const LIST_LABELS: ReadonlySet<MatchLabel> = new Set(['owasp_llm', 'owasp_agentic', 'mitre_atlas']);
const HOW =
  'write label=value, label!=value, label=~regex, label!~regex, or severity>=level / severity<=level (e.g. "severity>=high", "type=~prompt_injection|jailbreak")';

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

/**
 * A matcher as written in the routes file, Alertmanager's syntax: `severity>=high`,
 * `tenant="acme"`, `type=~"prompt_.*"`. A value may be a JSON string in quotes (for
 * spaces or leading `=`). Regular expressions match the whole value, as Alertmanager's.
 */
export function parseMatcher(text: string): { ok: true; matcher: Matcher } | { ok: false; reason: string } {
  const m = SYNTAX.exec(text);
  if (!m) return { ok: false, reason: `"${text}" is not a matcher; ${HOW}` };
  const [, name, op, raw] = m as unknown as [string, string, MatchOp, string];
  if (!(MATCH_LABELS as readonly string[]).includes(name)) {
    return { ok: false, reason: `unknown label "${name}" in "${text}"; use one of ${MATCH_LABELS.join(', ')}` };
  }
  const label = name as MatchLabel;
  let value = raw;
  if (raw.startsWith('"')) {
    try {
      value = JSON.parse(raw) as string;
    } catch {
      return {
        ok: false,
        reason: `the quoted value in "${text}" is not a JSON string; close the quote and escape \\ and "`,
      };
    }
    if (typeof value !== 'string') return { ok: false, reason: `the value in "${text}" must be a string` };
  }
  if ((op === '>=' || op === '<=') && label !== 'severity') {
    return { ok: false, reason: `"${op}" in "${text}" orders severities only; write severity${op}level` };
  }
  if (label === 'severity' && (op === '=' || op === '!=' || op === '>=' || op === '<=')) {
    if (!(SEVERITIES as readonly string[]).includes(value)) {
      return { ok: false, reason: `unknown severity "${value}" in "${text}"; use one of ${SEVERITIES.join(', ')}` };
    }
  }
  const matcher: Matcher = { label, op, value, text: text.trim() };
  if (op === '=~' || op === '!~') {
    try {
      matcher.regex = new RegExp(`^(?:${value})$`, 'u');
    } catch (err) {
      return { ok: false, reason: `bad regular expression in "${text}" (${(err as Error).message})` };
    }
  }
  return { ok: true, matcher };
}

function valuesOf(f: Finding, label: MatchLabel): readonly string[] {
  // An empty list reads as one empty value, as a missing label does in Alertmanager.
  if (LIST_LABELS.has(label)) {
    const ids = f[label as 'owasp_llm'] ?? [];
    return ids.length > 0 ? ids : [''];
  }
  return [String(f[label as 'tenant'] ?? '')];
}

/** Whether one matcher holds. On framework id lists: `=`/`=~` hold when some id matches, `!=`/`!~` when none does. */
export function matches(m: Matcher, f: Finding): boolean {
  switch (m.op) {
    case '>=':
      return severityRank(f.severity) >= severityRank(m.value as Severity);
    case '<=':
      return severityRank(f.severity) <= severityRank(m.value as Severity);
    case '=':
      return valuesOf(f, m.label).some((v) => v === m.value);
    case '!=':
      return !valuesOf(f, m.label).some((v) => v === m.value);
    case '=~':
      return valuesOf(f, m.label).some((v) => m.regex!.test(v));
    case '!~':
      return !valuesOf(f, m.label).some((v) => m.regex!.test(v));
  }
}

/** Every matcher holds (an empty list matches everything). */
export function matchesAll(matchers: readonly Matcher[], f: Finding): boolean {
  for (const m of matchers) if (!matches(m, f)) return false;
  return true;
}
