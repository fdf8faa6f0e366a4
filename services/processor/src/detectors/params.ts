import type { ParamType, Rule, RuleSet } from './types.ts';

/** Entries of a `strings` param, and keys of a `string_map`, at most. */
export const MAX_PARAM_ENTRIES = 256;
/** Characters of one string in a param, at most. */
export const MAX_PARAM_STRING = 256;

/** Why `value` is not of `type`, or null when it is. */
export function paramProblem(type: ParamType, value: unknown): string | null {
  switch (type) {
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? null : 'must be a number ≥ 0';
    case 'count':
      return Number.isInteger(value) && (value as number) >= 0 ? null : 'must be an integer ≥ 0';
    case 'fraction':
      return typeof value === 'number' && value >= 0 && value <= 1 ? null : 'must be a number in [0, 1]';
    case 'boolean':
      return typeof value === 'boolean' ? null : 'must be true or false';
    case 'strings':
      return stringsProblem(value);
    case 'string_map': {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        return 'must be an object whose values are lists of strings';
      const entries = Object.entries(value);
      if (entries.length > MAX_PARAM_ENTRIES) return `must have at most ${MAX_PARAM_ENTRIES} keys`;
      for (const [key, list] of entries) {
        if (key === '' || key.length > MAX_PARAM_STRING) return `key "${key}" must be 1–${MAX_PARAM_STRING} characters`;
        const problem = stringsProblem(list);
        if (problem) return `key "${key}": ${problem}`;
      }
      return null;
    }
  }
}

function stringsProblem(value: unknown): string | null {
  if (!Array.isArray(value)) return 'must be a list of strings';
  if (value.length > MAX_PARAM_ENTRIES) return `must have at most ${MAX_PARAM_ENTRIES} entries`;
  const bad = value.findIndex((s) => typeof s !== 'string' || s === '' || s.length > MAX_PARAM_STRING);
  return bad < 0 ? null : `entry ${bad} must be a string of 1–${MAX_PARAM_STRING} characters`;
}

/*
 * Typed reads of a compiled rule's params. The pack loader has checked every
 * param against the detector's spec, so a wrong type here is a bug in the code
 * (a name the spec does not declare): it throws, naming the rule and param.
 */

function read(rule: Rule, name: string): unknown {
  const value = rule.params[name];
  if (value === undefined) throw new Error(`rule ${rule.id}: param ${name} is not declared by its detector`);
  return value;
}

export const numberParam = (rule: Rule, name: string): number => read(rule, name) as number;
export const booleanParam = (rule: Rule, name: string): boolean => read(rule, name) as boolean;
export const stringsParam = (rule: Rule, name: string): readonly string[] => read(rule, name) as string[];
export const mapParam = (rule: Rule, name: string): Readonly<Record<string, readonly string[]>> =>
  read(rule, name) as Record<string, string[]>;

/** The rule if the tenant's rule set has it enabled, else undefined. */
export function enabled(rules: RuleSet, id: string): Rule | undefined {
  const rule = rules.get(id);
  return rule?.enabled ? rule : undefined;
}
