/**
 * Glob matching for names in rule params and the inventory policy: `*` stands
 * for any run of characters (also none), `?` for exactly one; everything else is
 * literal, compared case-insensitively (`gpt-4o*`, `*.openai.com`, `send_*`).
 *
 * A two-pointer matcher, no regular expression: nothing to compile or cache, and
 * at worst O(pattern × name) with no backtracking blow-up on hostile patterns.
 */
export function globMatch(pattern: string, name: string): boolean {
  const p = pattern.toLowerCase();
  const s = name.toLowerCase();
  let i = 0;
  let j = 0;
  let star = -1;
  let mark = 0;
  while (j < s.length) {
    const c = p[i];
    if (c === '?' || (c !== undefined && c !== '*' && c === s[j])) {
      i++;
      j++;
    } else if (c === '*') {
      star = i++;
      mark = j;
    } else if (star >= 0) {
      i = star + 1;
      j = ++mark;
    } else {
      return false;
    }
  }
  while (p[i] === '*') i++;
  return i === p.length;
}

/** Whether any of `patterns` matches `name`. */
export const matchesAny = (patterns: readonly string[], name: string): boolean =>
  patterns.some((pattern) => globMatch(pattern, name));

/** The first of `patterns` that matches `name`, or null. */
export const firstMatch = (patterns: readonly string[], name: string): string | null =>
  patterns.find((pattern) => globMatch(pattern, name)) ?? null;
