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

/**
 * Answers per pattern list (a rule's params, the policy's lists: the same arrays
 * for as long as that pack or policy is in force), by name: the detectors ask the
 * same few names on every event. Bounded: a list's answers are dropped when full.
 */
const answers = new WeakMap<readonly string[], Map<string, boolean>>();
const MAX_ANSWERS = 4096;

/** Whether any of `patterns` matches `name`. */
export function matchesAny(patterns: readonly string[], name: string): boolean {
  let known = answers.get(patterns);
  if (known === undefined) answers.set(patterns, (known = new Map<string, boolean>()));
  let answer = known.get(name);
  if (answer === undefined) {
    answer = patterns.some((pattern) => globMatch(pattern, name));
    if (known.size >= MAX_ANSWERS) known.clear();
    known.set(name, answer);
  }
  return answer;
}

/** The first of `patterns` that matches `name`, or null. */
export const firstMatch = (patterns: readonly string[], name: string): string | null =>
  patterns.find((pattern) => globMatch(pattern, name)) ?? null;
