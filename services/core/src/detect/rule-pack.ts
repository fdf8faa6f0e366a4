import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { AispmError } from '../errors.ts';
import {
  CONTENT_CHANNELS,
  DETECTION_KINDS,
  SEVERITIES,
  type ContentChannel,
  type DetectionKind,
  type Severity,
} from './types.ts';

/**
 * Injection rules are data: a versioned JSON rule pack under rules/injection/,
 * validated at load (zod for the shape, then each pattern compiled and checked),
 * so a bad rule stops start-up with the file and rule named instead of silently
 * matching nothing.
 *
 * Patterns are regular expressions over the normalised text (normalise.ts): lower
 * case, Latin diacritics stripped, whitespace collapsed to one space. So a pattern
 * writes `ignore previous`, not `Ignore\s+previous`. For the scan to stay linear
 * and cheap, a pattern:
 * - has no capturing group (write `(?:…)`) and no top-level `|` (write two patterns);
 * - repeats no group with `*`, `+` or an open `{n,}`, and no `.` without a bound
 *   (`.{0,40}`, not `.*`): no catastrophic backtracking;
 * - holds a literal of at least 3 characters (2 for CJK and other non-Latin
 *   scripts) outside any group, or a group of such literals (`(?:ignore|forget)`)
 *   that is not optional: its anchors. One pass over the text finds the anchors
 *   present (a table keyed by their first two characters), and only patterns
 *   with an anchor present run.
 */
export const RULES_DIR = join(import.meta.dirname, '../../../../rules');
export const DEFAULT_RULE_PACK = join(RULES_DIR, 'injection/injection.v1.json');

export const LANGUAGES = ['en', 'de', 'fr', 'es', 'pt', 'it', 'zh', 'ja', 'ko', 'ru', 'ar', 'any'] as const;

const ruleSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9_.-]{3,80}$/, 'lower-case letters, digits, `_`, `.`, `-`'),
    title: z.string().min(3).max(200),
    severity: z.enum(SEVERITIES),
    confidence: z.number().min(0).max(1),
    kind: z.enum(DETECTION_KINDS),
    owaspLlm: z.string().regex(/^LLM(?:0[1-9]|10)$/),
    owaspAgentic: z
      .string()
      .regex(/^ASI(?:0[1-9]|10)$/)
      .optional(),
    atlas: z.string().regex(/^AML\.T\d{4}(?:\.\d{3})?$/),
    /** The technique when the text came through a tool or retrieval (indirect injection), if it differs. */
    atlasIndirect: z
      .string()
      .regex(/^AML\.T\d{4}(?:\.\d{3})?$/)
      .optional(),
    channels: z.array(z.enum(CONTENT_CHANNELS)).min(1).optional(),
    patterns: z.partialRecord(z.enum(LANGUAGES), z.array(z.string().min(2).max(1000)).min(1)),
  })
  .strict();

/** Signals the code computes (obfuscation, exfiltration links, the model): their metadata is data too. */
export const BUILTIN_SIGNALS = [
  'obfuscation.invisible',
  'obfuscation.unicode_tags',
  'obfuscation.homoglyphs',
  'obfuscation.leetspeak',
  'obfuscation.encoded',
  'obfuscation.hidden_html',
  'exfil.markdown_image',
  'exfil.markdown_link',
  'exfil.html_image',
  'model',
] as const;
export type BuiltinSignal = (typeof BUILTIN_SIGNALS)[number];

const builtinSchema = ruleSchema.omit({ id: true, patterns: true, channels: true });

const packSchema = z
  .object({
    pack: z.string().regex(/^[a-z0-9_-]+$/),
    version: z.number().int().min(1),
    description: z.string().optional(),
    builtins: z.partialRecord(z.enum(BUILTIN_SIGNALS), builtinSchema),
    rules: z.array(ruleSchema).min(1),
  })
  .strict();

export type RuleSource = z.infer<typeof ruleSchema>;
export type RulePackSource = z.infer<typeof packSchema>;

export interface CompiledPattern {
  rule: CompiledRule;
  lang: string;
  source: string;
  regex: RegExp;
  /** The same pattern, sticky: tried only where a match can begin (an occurrence of the lead set). */
  sticky: RegExp;
  /** Literals one of which every match contains (the most selective such set). */
  anchors: string[];
  /** Every such set the pattern has: the prefilter runs the pattern only when each set has a literal in the text. */
  anchorSets: string[][];
  /** Indices of anchorSets in the pack's prefilter. */
  sets: Int32Array;
  /** The prefilter set the pattern starts with (a match begins at one of its literals), or -1. */
  lead: number;
  /** The longest match the pattern can make (UTF-16 units), or Infinity when a repeat is unbounded. */
  maxLength: number;
}

export interface CompiledRule {
  id: string;
  title: string;
  severity: Severity;
  confidence: number;
  kind: DetectionKind;
  owaspLlm: string;
  owaspAgentic?: string;
  atlas: string;
  atlasIndirect: string;
  channels: ReadonlySet<ContentChannel>;
  patterns: CompiledPattern[];
}

export interface RulePack {
  pack: string;
  version: number;
  /** Where it was loaded from (for error messages and the verdict's provenance). */
  file: string;
  rules: CompiledRule[];
  /** What the code's own signals are, by id: every BUILTIN_SIGNALS id is there. */
  builtins: ReadonlyMap<BuiltinSignal, CompiledRule>;
  patterns: CompiledPattern[];
  prefilter: Prefilter;
}

/**
 * Literals in three open-addressing tables of typed arrays, keyed by their first
 * two, three or four UTF-16 units (a literal of n units sits in table min(n, 4)),
 * so the pass over a text looks up three keys per position and checks only the
 * literals whose start matches that far. For each literal, the anchor sets it
 * satisfies.
 */
export interface Prefilter {
  tables: KeyTable[];
  literals: string[];
  literalSets: Int32Array[];
  setCount: number;
  /** Per set, the generation of the last text that hit it. */
  hits: Uint32Array;
  /** Per set, where in the last text one of its literals first occurred. */
  firstAt: Int32Array;
  /**
   * Per set, where its literals occurred in the last text (MAX_OCCURRENCES slots a set, in order), and how
   * many: a count above MAX_OCCURRENCES means there were more than the slots hold.
   */
  occurrences: Int32Array;
  occurrenceCount: Int32Array;
  /**
   * Bytes keyed by the gate slot of a literal's first four units (gate4: literals of 4 or more), three
   * (gate3: literals of 3) or two (gate2): 0 where no such literal starts.
   */
  gate4: Uint8Array;
  gate3: Uint8Array;
  gate2: Uint8Array;
  generation: number;
}

interface KeyTable {
  bits: number;
  mask: number;
  /** Key per slot; 0 is empty (keys are never 0). */
  keys: Int32Array;
  /** Per slot, the literals with that key. */
  lists: (Int32Array | null)[];
}

export class RulePackError extends AispmError {
  constructor(file: string, message: string) {
    super('rule_pack_invalid', `rule pack ${file}: ${message}`);
    this.name = 'RulePackError';
  }
}

/** Reads, validates and compiles a rule pack file. */
export function loadRulePack(file: string = DEFAULT_RULE_PACK): RulePack {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new RulePackError(file, `cannot read it as JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  return compileRulePack(raw, file);
}

/** Validates and compiles a parsed rule pack; `file` names it in errors. */
export function compileRulePack(raw: unknown, file = '<inline>'): RulePack {
  const parsed = packSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path;
    const rules = (raw as { rules?: { id?: unknown }[] } | null)?.rules;
    const ruleIndex = path[0] === 'rules' && typeof path[1] === 'number' ? path[1] : -1;
    const ruleId = ruleIndex >= 0 ? rules?.[ruleIndex]?.id : undefined;
    const where = ruleIndex >= 0 ? `rule ${typeof ruleId === 'string' ? `"${ruleId}"` : `#${ruleIndex}`}` : 'pack';
    const field = path.slice(ruleIndex >= 0 ? 2 : 0).join('.');
    throw new RulePackError(file, `${where}${field ? `, field ${field}` : ''}: ${issue.message}`);
  }
  const source = parsed.data;
  const builtins = new Map<BuiltinSignal, CompiledRule>();
  for (const id of BUILTIN_SIGNALS) {
    const entry = source.builtins[id];
    if (entry === undefined) throw new RulePackError(file, `builtins: "${id}" is missing`);
    builtins.set(id, {
      ...entry,
      id,
      atlasIndirect: entry.atlasIndirect ?? entry.atlas,
      channels: new Set(CONTENT_CHANNELS),
      patterns: [],
    });
  }
  const seen = new Set<string>(BUILTIN_SIGNALS);
  const rules: CompiledRule[] = [];
  const patterns: CompiledPattern[] = [];
  for (const rule of source.rules) {
    if (seen.has(rule.id)) throw new RulePackError(file, `rule "${rule.id}": the id is used twice (or is a builtin's)`);
    seen.add(rule.id);
    const compiled: CompiledRule = {
      id: rule.id,
      title: rule.title,
      severity: rule.severity,
      confidence: rule.confidence,
      kind: rule.kind,
      owaspLlm: rule.owaspLlm,
      ...(rule.owaspAgentic ? { owaspAgentic: rule.owaspAgentic } : {}),
      atlas: rule.atlas,
      atlasIndirect: rule.atlasIndirect ?? rule.atlas,
      channels: new Set(rule.channels ?? CONTENT_CHANNELS),
      patterns: [],
    };
    for (const [lang, list] of Object.entries(rule.patterns)) {
      for (const pattern of list ?? []) {
        const problem = patternProblem(pattern);
        if (problem !== null)
          throw new RulePackError(file, `rule "${rule.id}", ${lang} pattern /${pattern}/: ${problem}`);
        let regex: RegExp;
        try {
          regex = new RegExp(pattern, 'g');
        } catch (err) {
          throw new RulePackError(file, `rule "${rule.id}", ${lang} pattern /${pattern}/: ${(err as Error).message}`);
        }
        const anchorSets: string[][] = [];
        const anchors = anchorsOf(pattern, anchorSets);
        if (anchors === null) {
          throw new RulePackError(
            file,
            `rule "${rule.id}", ${lang} pattern /${pattern}/: needs an anchor: a literal of 3 or more characters (2 in CJK and other non-Latin scripts) outside any group, or a group of such literals (?:a|b) that is not optional`,
          );
        }
        const entry: CompiledPattern = {
          rule: compiled,
          lang,
          source: pattern,
          regex,
          sticky: new RegExp(pattern, 'y'),
          anchors,
          anchorSets,
          sets: new Int32Array(0),
          lead: -1,
          maxLength: maxLengthOf(pattern),
        };
        compiled.patterns.push(entry);
        patterns.push(entry);
      }
    }
    if (compiled.patterns.length === 0) throw new RulePackError(file, `rule "${rule.id}": has no pattern`);
    rules.push(compiled);
  }
  return {
    pack: source.pack,
    version: source.version,
    file,
    rules,
    builtins,
    patterns,
    prefilter: buildPrefilter(patterns),
  };
}

/** Why a pattern could backtrack badly or defeat the prefilter, or null when it is fine. */
export function patternProblem(pattern: string): string | null {
  if (/[A-Z]/.test(pattern.replace(/\\[A-Za-z]/g, '')))
    return 'upper-case letters never match: texts are lower-cased before matching';
  if (/\\s/.test(pattern)) return 'write one space for whitespace (`\\s` is not needed: whitespace is collapsed)';
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '[') {
      // Skip the class: its contents are no syntax.
      i = classEnd(pattern, i);
      continue;
    }
    if (c === '(') {
      if (pattern[i + 1] !== '?') return 'capturing group: write (?:…)';
      depth++;
    } else if (c === ')') {
      depth--;
      if (isOpenQuantifier(pattern, i + 1)) return 'a group repeated without a bound (`)*`, `)+`, `){n,}`): use {0,N}';
    } else if (c === '|' && depth === 0) return 'top-level `|`: write each alternative as its own pattern';
    else if (c === '.' && isOpenQuantifier(pattern, i + 1)) return '`.` repeated without a bound: use .{0,N}';
  }
  return null;
}

function isOpenQuantifier(pattern: string, at: number): boolean {
  const c = pattern[at];
  return c === '*' || c === '+' || (c === '{' && /^\{\d+,\}/.test(pattern.slice(at)));
}

function classEnd(pattern: string, start: number): number {
  for (let i = start + 1; i < pattern.length; i++) {
    if (pattern[i] === '\\') i++;
    else if (pattern[i] === ']' && i > start + 1) return i;
  }
  return pattern.length;
}

/**
 * Literals one of which every match contains: the longest literal run outside any
 * group (characters not made optional by a quantifier), or the anchors of a
 * required group, each of whose alternatives has anchors of its own (found the
 * same way). Whichever has the longest shortest literal wins. Null when no
 * literal is long enough.
 */
export function anchorsOf(pattern: string, all?: string[][]): string[] | null {
  const considered: string[][] = [];
  const found = sequenceAnchors(pattern, considered);
  if (all) {
    const sets = considered.filter((set) => minWeight(set) >= 3).map((set) => [...new Set(set)]);
    const implies = (long: string[], short: string[]): boolean =>
      long.every((literal) => short.some((part) => literal.includes(part) && literal !== part));
    // A set with a short literal (`you `, `skip`) is in most texts: a crossed set that implies it filters instead.
    const weak = sets.filter((set) => set.some((literal) => literal.trim().length <= 4));
    const crossed = adjacentSets(pattern).filter(
      (set) => minWeight(set) >= 3 && weak.some((short) => implies(set, short)),
    );
    for (const set of sets) if (!crossed.some((long) => implies(long, set))) all.push(set);
    for (const set of crossed) all.push([...new Set(set)]);
  }
  return found !== null && minWeight(found) >= 3 ? found : null;
}

/** Sets of more literals than this are not built by crossing. */
const MAX_CROSSED = 24;

/**
 * Literal sets made of adjacent parts of the pattern's top level: a literal run and the group of plain
 * literal alternatives next to it (`you (?:are|were)` → `you are`, `you were`), crossed, as long as the parts
 * run on without anything optional or variable between them. Zero-width assertions do not break a run.
 */
function adjacentSets(pattern: string): string[][] {
  const out: string[][] = [];
  let acc: string[] = [''];
  let parts = 0;
  const flush = (): void => {
    if (parts >= 2 && acc.every((a) => a.length > 0)) out.push(acc);
    acc = [''];
    parts = 0;
  };
  const append = (tails: string[], separate: boolean): void => {
    const crossed: string[] = [];
    for (const head of acc) for (const tail of tails) crossed.push(head + tail);
    if (crossed.length > MAX_CROSSED) {
      flush();
      acc = tails;
    } else acc = crossed;
    if (separate) parts++;
  };
  let literalPart = false;
  for (let i = 0; i < pattern.length;) {
    const c = pattern[i]!;
    if (c === '(') {
      const close = groupEnd(pattern, i);
      if (/^\(\?(?:[=!]|<[=!])/.test(pattern.slice(i, i + 4))) {
        i = close + 1;
        continue;
      }
      const after = pattern[close + 1];
      const body = pattern.slice(i + 3, close);
      const plain = pattern.startsWith('(?:', i) && /^[^\\.^$*+?{}()[\]]*$/.test(body);
      if (!plain || after === '?' || after === '*' || after === '+' || after === '{') {
        flush();
        literalPart = false;
        i = close + 1;
        // The group's quantifier is no literal either.
        if (after === '{') i = pattern.indexOf('}', close) + 1;
        else if (after === '?' || after === '*' || after === '+') i++;
        continue;
      }
      append(body.split('|'), true);
      literalPart = false;
      i = close + 1;
      continue;
    }
    let literal: string | null = null;
    let width = 1;
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      width = 2;
      if (next === 'b' || next === 'B') {
        i += 2;
        continue;
      }
      if (/[^A-Za-z0-9]/.test(next)) literal = next;
    } else if (!'.[|^$*+?{}'.includes(c)) literal = c;
    const next = pattern[i + width];
    if (literal === null || next === '?' || next === '*' || (next === '{' && /^\{0,/.test(pattern.slice(i + width)))) {
      flush();
      literalPart = false;
      if (c === '[') width = classEnd(pattern, i) - i + 1;
      i += width;
      const q = pattern[i];
      if (q === '{') i = pattern.indexOf('}', i) + 1;
      else if (q === '?' || q === '*' || q === '+') i++;
      continue;
    }
    append([literal], !literalPart);
    literalPart = true;
    i += width;
    if (next === '+' || next === '{') {
      // Present at least once, but what follows may come after more of it.
      flush();
      literalPart = false;
      if (next === '{') i = pattern.indexOf('}', i) + 1;
      else i++;
    }
  }
  flush();
  return out;
}

function sequenceAnchors(pattern: string, all?: string[][]): string[] | null {
  let best: string[] | null = null;
  let run = '';
  const consider = (candidate: string[] | null): void => {
    if (candidate !== null && candidate.length > 0) all?.push(candidate);
    if (candidate !== null && candidate.length > 0 && (best === null || minWeight(candidate) > minWeight(best)))
      best = candidate;
  };
  const end = (): void => {
    if (run.length > 0) consider([run]);
    run = '';
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '(') {
      end();
      const close = groupEnd(pattern, i);
      const after = pattern[close + 1];
      const optional = after === '?' || after === '*' || (after === '{' && /^\{0,/.test(pattern.slice(close + 1)));
      // Only plain (?:…) groups: a lookaround's text is not part of the match.
      if (!optional && pattern.startsWith('(?:', i)) consider(alternationAnchors(pattern.slice(i + 3, close)));
      // Skip the group's quantifier too, so `{0,2}` is not read as literal text.
      i =
        after === '{'
          ? Math.max(close, pattern.indexOf('}', close))
          : after === '?' || after === '*' || after === '+'
            ? close + 1
            : close;
      continue;
    }
    let literal: string | null = null;
    let width = 1;
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      width = 2;
      if (/[^A-Za-z0-9]/.test(next)) literal = next;
    } else if (c === '[') {
      width = classEnd(pattern, i) - i + 1;
    } else if (!'.^$|*+?{}'.includes(c)) {
      literal = c;
    }
    const next = pattern[i + width];
    if (literal !== null) {
      if (next === '?' || next === '*' || (next === '{' && /^\{0,/.test(pattern.slice(i + width)))) end();
      else {
        run += literal;
        if (next === '+' || next === '{') end();
      }
    } else end();
    if (next === '{') {
      // Skip a quantifier's body so its digits are not read as literals.
      const close = pattern.indexOf('}', i + width);
      i = close < 0 ? i + width - 1 : close;
      continue;
    }
    i += width - 1;
  }
  end();
  return best;
}

/** Anchors of a group body `a|b|c`: every alternative's, or null when one alternative has none. */
function alternationAnchors(body: string): string[] | null {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i <= body.length; i++) {
    const c = body[i];
    if (c === '\\') i++;
    else if (c === '[') i = classEnd(body, i);
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (i === body.length || (c === '|' && depth === 0)) {
      const anchors = sequenceAnchors(body.slice(start, i));
      if (anchors === null) return null;
      out.push(...anchors);
      start = i + 1;
    }
  }
  return out;
}

/**
 * The literals a pattern starts with: every match begins with one of them, so the
 * pattern need only be tried where one occurs. Read off the pattern's opening: a
 * literal run, extended through required groups (each alternative's own opening,
 * crossed with what came before), past zero-width assertions and through leading
 * optional groups (whose openings join those of what follows). Null when an
 * opening is too short to be an anchor (weight under 3) or unknown (a class, `.`).
 */
export function leadingSet(pattern: string): string[] | null {
  const found = openings(pattern, 0);
  if (found === null || found.length === 0 || found.length > MAX_OPENINGS) return null;
  const set = [...new Set(found)];
  return minWeight(set) >= 3 ? set : null;
}

/** Openings of more literals than this are not worth tracking. */
const MAX_OPENINGS = 96;

/**
 * The literal prefixes every match of pattern.slice(from) (a sequence, up to a top-level `|` or `)`) starts
 * with; null when some match may start with no literal at all.
 */
function openings(pattern: string, from: number): string[] | null {
  let acc: string[] = [''];
  for (let i = from; i < pattern.length;) {
    const c = pattern[i]!;
    if (c === '|' || c === ')') break;
    if (c === '(') {
      const close = groupEnd(pattern, i);
      const after = pattern[close + 1];
      if (pattern.startsWith('(?=', i) || pattern.startsWith('(?!', i) || pattern.startsWith('(?<', i)) {
        // A lookaround takes no text: the match goes on from the same place.
        i = close + 1;
        continue;
      }
      if (!pattern.startsWith('(?:', i)) return finish(acc);
      const optional = after === '?' || after === '*' || (after === '{' && /^\{0,/.test(pattern.slice(close + 1)));
      const alternatives = alternativesOf(pattern, i + 3, close);
      if (alternatives === null) return finish(acc);
      if (optional) {
        // Before anything else was read, the group's openings and those of what follows it both start matches.
        if (acc.length !== 1 || acc[0] !== '') return finish(acc);
        const skip = after === '{' ? pattern.indexOf('}', close) + 1 : close + 2;
        const rest = openings(pattern, skip);
        if (rest === null) return null;
        return [...alternatives, ...rest];
      }
      const crossed: string[] = [];
      for (const head of acc) for (const tail of alternatives) crossed.push(head + tail);
      if (crossed.length > MAX_OPENINGS) return finish(acc);
      // The alternatives' openings may stop short of their ends: nothing after the group extends them.
      return crossed;
    }
    let literal: string | null = null;
    let width = 1;
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      width = 2;
      if (next === 'b' || next === 'B') {
        i += 2;
        continue;
      }
      if (/[^A-Za-z0-9]/.test(next)) literal = next;
    } else if (c === '^' || c === '$') {
      i++;
      continue;
    } else if (!'.[*+?{}'.includes(c)) literal = c;
    if (literal === null) return finish(acc);
    const next = pattern[i + width];
    if (next === '?' || next === '*' || (next === '{' && /^\{0,/.test(pattern.slice(i + width)))) return finish(acc);
    acc = acc.map((head) => head + literal);
    if (next === '+' || next === '{') return acc;
    i += width;
  }
  return acc;
}

/** What was read so far, unless that is nothing (then a match may start anywhere). */
const finish = (acc: string[]): string[] | null => (acc.some((head) => head.length === 0) ? null : acc);

/** The openings of each alternative of the group body pattern.slice(start, end), or null when one has none. */
function alternativesOf(pattern: string, start: number, end: number): string[] | null {
  const out: string[] = [];
  let depth = 0;
  let from = start;
  for (let i = start; i <= end; i++) {
    const c = pattern[i];
    if (c === '\\') i++;
    else if (c === '[') i = classEnd(pattern, i);
    else if (c === '(') depth++;
    else if (i === end || (c === ')' && depth === 0) || (c === '|' && depth === 0)) {
      const found = openings(pattern.slice(0, i), from);
      if (found === null) return null;
      out.push(...found);
      from = i + 1;
      if (i === end) break;
    } else if (c === ')') depth--;
  }
  return out;
}

/**
 * The longest text `pattern` can match: a sequence adds its parts, a group takes its longest alternative, a
 * quantifier multiplies by its upper bound; a lookaround takes no text. Infinity for an unbounded repeat.
 */
export function maxLengthOf(pattern: string, from = 0, to = pattern.length): number {
  let best = 0;
  let total = 0;
  for (let i = from; i < to;) {
    const c = pattern[i]!;
    if (c === '|') {
      best = Math.max(best, total);
      total = 0;
      i++;
      continue;
    }
    let length: number;
    let next: number;
    if (c === '(') {
      const close = groupEnd(pattern, i);
      const lookaround = /^\(\?(?:[=!]|<[=!])/.test(pattern.slice(i, i + 4));
      const body = pattern.startsWith('(?:', i) ? i + 3 : i + 1;
      length = lookaround ? 0 : maxLengthOf(pattern, body, close);
      next = close + 1;
    } else if (c === '[') {
      length = 1;
      next = classEnd(pattern, i) + 1;
    } else if (c === '\\') {
      const escaped = pattern[i + 1] ?? '';
      length = escaped === 'b' || escaped === 'B' ? 0 : 1;
      next = i + 2;
    } else if (c === '^' || c === '$') {
      length = 0;
      next = i + 1;
    } else {
      length = 1;
      next = i + 1;
    }
    // The quantifier after the atom, if any.
    const q = pattern[next];
    let times = 1;
    if (q === '*' || q === '+') {
      times = Infinity;
      next++;
    } else if (q === '?') next++;
    else if (q === '{') {
      const bound = /^\{(\d+)(?:,(\d*))?\}/.exec(pattern.slice(next));
      if (bound !== null) {
        times = bound[2] === undefined ? Number(bound[1]) : bound[2] === '' ? Infinity : Number(bound[2]);
        next += bound[0].length;
      }
    }
    // A lazy or possessive mark after the quantifier changes nothing here.
    if (pattern[next] === '?' && next > i + 1 && '*+?}'.includes(pattern[next - 1]!)) next++;
    total += length === 0 ? 0 : length * times;
    i = next;
  }
  return Math.max(best, total);
}

/** The index of the `)` closing the group opened at `open`. */
function groupEnd(pattern: string, open: number): number {
  let depth = 0;
  for (let i = open; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') i++;
    else if (c === '[') i = classEnd(pattern, i);
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return pattern.length - 1;
}

/** Words too common to be worth tracking as a pattern's opening. */
const COMMON = new Set(
  'the you your and for this that with from all any what please are was have not but can will'.split(' '),
);

/** The weight from which an anchor set filters: four Latin letters, or three units of another script. */
const SELECTIVE_WEIGHT = 4;

const minWeight = (list: readonly string[]): number => Math.min(...list.map(weight));

/** An anchor's strength: non-Latin characters (CJK, Cyrillic, Arabic) are rarer, so count more. */
function weight(text: string): number {
  let w = 0;
  for (let i = 0; i < text.length; i++) w += text.charCodeAt(i) >= 0x370 ? 1.5 : 1;
  return w;
}

function buildPrefilter(patterns: readonly CompiledPattern[]): Prefilter {
  const setIds = new Map<string, number>();
  const literalIds = new Map<string, number>();
  const literals: string[] = [];
  const literalSets: number[][] = [];
  const setOf = (set: readonly string[]): number => {
    const key = [...new Set(set)].sort().join('\u0000');
    let id = setIds.get(key);
    if (id === undefined) {
      setIds.set(key, (id = setIds.size));
      for (const literal of new Set(set)) {
        let l = literalIds.get(literal);
        if (l === undefined) {
          literalIds.set(literal, (l = literals.length));
          literals.push(literal);
          literalSets.push([]);
        }
        literalSets[l]!.push(id);
      }
    }
    return id;
  };
  for (const pattern of patterns) {
    const ids: number[] = [];
    // Sets with a short literal (`the`, `you`) are in nearly every text: they cost a probe and filter nothing.
    // A pattern keeps its selective sets, or its best one when it has none; dropping a set never hides a match.
    const strong = pattern.anchorSets.filter((set) => minWeight(set) >= SELECTIVE_WEIGHT);
    const kept = strong.length > 0 ? strong : [pattern.anchors];
    for (const set of kept) {
      const id = setOf(set);
      if (!ids.includes(id)) ids.push(id);
    }
    pattern.sets = Int32Array.from(ids);
  }
  // A pattern's opening literals are tracked too (where they occur), unless one is a word in nearly every
  // text (`the `, `you `): then the pattern scans its text, which it runs on only when its sets are there.
  for (const pattern of patterns) {
    const leading = leadingSet(pattern.source);
    if (leading !== null && leading.every((literal) => !COMMON.has(literal.trim()) && weight(literal.trim()) >= 4))
      pattern.lead = setOf(leading);
  }
  const tables = [2, 3, 4].map((units) => {
    const members = literals
      .map((literal, index) => ({ literal, index }))
      .filter(({ literal }) => Math.min(literal.length, 4) === units);
    let bits = 4;
    while (1 << bits < members.length * 4) bits++;
    const size = 1 << bits;
    const keys = new Int32Array(size);
    const lists: (number[] | null)[] = new Array<number[] | null>(size).fill(null);
    for (const { literal, index } of members) {
      const key = keyAt(literal, 0, units);
      let slot = Math.imul(key, 0x9e3779b1) >>> (32 - bits);
      while (keys[slot] !== 0 && keys[slot] !== key) slot = (slot + 1) & (size - 1);
      keys[slot] = key;
      (lists[slot] ??= []).push(index);
    }
    return { bits, mask: size - 1, keys, lists: lists.map((list) => (list === null ? null : Int32Array.from(list))) };
  });
  const gate4 = new Uint8Array(1 << GATE_BITS);
  const gate3 = new Uint8Array(1 << GATE_BITS);
  const gate2 = new Uint8Array(1 << GATE_BITS);
  for (const literal of literals) {
    const [c0, c1, c2, c3] = [0, 1, 2, 3].map((k) => literal.charCodeAt(k));
    if (literal.length >= 4) gate4[gateSlot4(c0!, c1!, c2!, c3!)] = 1;
    else if (literal.length === 3) gate3[gateSlot(c0!, c1!, c2!)] = 1;
    else gate2[gateSlot(c0!, c1!, 0)] = 1;
  }
  return {
    tables,
    literals,
    literalSets: literalSets.map((ids) => Int32Array.from(ids)),
    setCount: setIds.size,
    hits: new Uint32Array(setIds.size),
    firstAt: new Int32Array(setIds.size),
    occurrences: new Int32Array(setIds.size * MAX_OCCURRENCES),
    occurrenceCount: new Int32Array(setIds.size),
    gate4,
    gate3,
    gate2,
    generation: 0,
  };
}

/** A non-zero key for `units` UTF-16 units of `text` from `at`. */
function keyAt(text: string, at: number, units: number): number {
  let key = (text.charCodeAt(at) << 16) | text.charCodeAt(at + 1);
  if (units >= 3) key = Math.imul(key ^ 0x5bd1e995, 0x01000193) ^ text.charCodeAt(at + 2);
  if (units >= 4) key = Math.imul(key, 0x01000193) ^ text.charCodeAt(at + 3);
  return key === 0 ? 1 : key;
}

/** Occurrences of a set's literals remembered per text; past this the pattern scans from the first. */
export const MAX_OCCURRENCES = 32;

/** The gate's slot for three units (or two, with c2 = 0): a cheap hash, one byte per slot. */
const gateSlot = (c0: number, c1: number, c2: number): number =>
  (Math.imul((c0 << 16) ^ (c1 << 5) ^ c2, 0x9e3779b1) >>> 16) & GATE_MASK;
const gateSlot4 = (c0: number, c1: number, c2: number, c3: number): number =>
  (Math.imul(Math.imul((c0 << 16) ^ c1, 0x85ebca6b) ^ (c2 << 16) ^ c3, 0x9e3779b1) >>> 16) & GATE_MASK;
const GATE_BITS = 16;
const GATE_MASK = (1 << GATE_BITS) - 1;

/**
 * The patterns that can match `text`: one pass marks the anchor sets with a
 * literal in the text, then a pattern is a candidate when each of its sets is
 * marked. A pattern that matches always is one (its sets are literals every
 * match contains); most patterns of most texts are not, and never run.
 *
 * Per position the pass reads one byte of a gate keyed by the next three units
 * (two for the non-Latin two-unit literals); only where the gate is set does it
 * compute the tables' keys and probe them.
 */
export function candidatePatterns(pack: RulePack, text: string, out: Set<CompiledPattern>): void {
  if (markLiterals(pack.prefilter, text)) collectCandidates(pack, out);
}

/** Every pattern whose anchor sets were all marked by the last markLiterals pass, in pack order. */
export function collectCandidates(pack: RulePack, out: Set<CompiledPattern> | CompiledPattern[]): void {
  const { hits, generation } = pack.prefilter;
  const list = Array.isArray(out) ? out : null;
  for (const pattern of pack.patterns) {
    const sets = pattern.sets;
    let all = sets.length > 0;
    for (let m = 0; m < sets.length && all; m++) all = hits[sets[m]!] === generation;
    if (!all) continue;
    if (list !== null) list.push(pattern);
    else (out as Set<CompiledPattern>).add(pattern);
  }
}

/** One pass over `text` marking the anchor sets that have a literal in it (and where); whether any did. */
export function markLiterals(filter: Prefilter, text: string): boolean {
  if (++filter.generation === 0xffffffff) {
    filter.hits.fill(0);
    filter.generation = 1;
  }
  const [t2, t3, t4] = filter.tables as [KeyTable, KeyTable, KeyTable];
  const { gate4, gate3, gate2 } = filter;
  const n = text.length;
  let any = false;
  // Keys roll forward: each position reads the units it needs once (keyAt, unrolled).
  let c1 = n > 0 ? text.charCodeAt(0) : 0;
  let c2 = n > 1 ? text.charCodeAt(1) : 0;
  let c3 = n > 2 ? text.charCodeAt(2) : 0;
  for (let i = 0; i + 1 < n; i++) {
    const c0 = c1;
    c1 = c2;
    c2 = c3;
    c3 = i + 3 < n ? text.charCodeAt(i + 3) : 0;
    // Two-unit literals are non-Latin (an anchor weighs 3, a Latin character 1): Latin text skips that table.
    if (c0 >= 0x370 && gate2[gateSlot(c0, c1, 0)] !== 0) {
      let key = (c0 << 16) | c1;
      if (key === 0) key = 1;
      if (probe(t2, key, filter, text, i)) any = true;
    }
    if (i + 2 >= n) continue;
    const three = gate3[gateSlot(c0, c1, c2)] !== 0;
    const four = i + 3 < n && gate4[gateSlot4(c0, c1, c2, c3)] !== 0;
    if (!three && !four) continue;
    const k3 = Math.imul(((c0 << 16) | c1) ^ 0x5bd1e995, 0x01000193) ^ c2;
    if (three && probe(t3, k3 === 0 ? 1 : k3, filter, text, i)) any = true;
    if (!four) continue;
    const k4 = Math.imul(k3, 0x01000193) ^ c3;
    if (probe(t4, k4 === 0 ? 1 : k4, filter, text, i)) any = true;
  }
  return any;
}

/** Marks the sets of the literals with `key` that start at `at`; whether any did. */
function probe(table: KeyTable, key: number, filter: Prefilter, text: string, at: number): boolean {
  const keys = table.keys;
  let slot = Math.imul(key, 0x9e3779b1) >>> (32 - table.bits);
  let found = keys[slot]!;
  while (found !== key) {
    if (found === 0) return false;
    slot = (slot + 1) & table.mask;
    found = keys[slot]!;
  }
  const list = table.lists[slot]!;
  const { hits, generation, occurrences, occurrenceCount } = filter;
  let hit = false;
  for (let k = 0; k < list.length; k++) {
    const literal = filter.literals[list[k]!]!;
    if (literal.length > 2 && !text.startsWith(literal, at)) continue;
    const sets = filter.literalSets[list[k]!]!;
    for (let m = 0; m < sets.length; m++) {
      const set = sets[m]!;
      if (hits[set] !== generation) {
        hits[set] = generation;
        filter.firstAt[set] = at;
        occurrenceCount[set] = 0;
      }
      const count = occurrenceCount[set]!;
      // Two literals of a set starting at one place (`instruction`, `instructions`) are one occurrence.
      if (count <= MAX_OCCURRENCES && (count === 0 || occurrences[set * MAX_OCCURRENCES + count - 1] !== at)) {
        if (count < MAX_OCCURRENCES) occurrences[set * MAX_OCCURRENCES + count] = at;
        occurrenceCount[set] = count + 1;
      }
    }
    hit = true;
  }
  return hit;
}
