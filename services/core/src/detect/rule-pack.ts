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
  /** Literals one of which every match contains (the most selective such set). */
  anchors: string[];
  /** Every such set the pattern has: the prefilter runs the pattern only when each set has a literal in the text. */
  anchorSets: string[][];
  /** Indices of anchorSets in the pack's prefilter. */
  sets: Int32Array;
  /** The prefilter set the pattern starts with (a match begins at one of its literals), or -1. */
  lead: number;
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
          anchors,
          anchorSets,
          sets: new Int32Array(0),
          lead: -1,
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
  if (all) for (const set of considered) if (minWeight(set) >= 3) all.push([...new Set(set)]);
  return found !== null && minWeight(found) >= 3 ? found : null;
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
 * The anchors a pattern starts with: its opening literal run, or its opening required
 * group of literals. A match then begins where one of them occurs, so the scan can
 * start at the first occurrence instead of the text's start. Null otherwise.
 */
export function leadingSet(pattern: string): string[] | null {
  if (pattern.startsWith('(?:')) {
    const close = groupEnd(pattern, 0);
    const after = pattern[close + 1];
    if (after === '?' || after === '*' || after === '{') return null;
    const alternatives = alternationAnchors(pattern.slice(3, close));
    // Each alternative's anchor must be where it starts: only plain literals qualify.
    const plain = pattern.slice(3, close).split('|');
    if (alternatives === null || alternatives.length !== plain.length) return null;
    return alternatives.every((a, k) => a === plain[k]) && minWeight(alternatives) >= 3 ? alternatives : null;
  }
  const run = /^[^\\.^$|*+?{}()[\]]+/.exec(pattern)?.[0] ?? '';
  const next = pattern[run.length];
  // A quantifier after the run makes its last character optional: the anchor would be shorter.
  if (next === '?' || next === '*' || next === '{' || next === '+') return null;
  const sets: string[][] = [];
  anchorsOf(pattern, sets);
  return run.length > 0 && sets.some((set) => set.length === 1 && set[0] === run) ? [run] : null;
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
  for (const pattern of patterns) {
    const ids: number[] = [];
    for (const set of pattern.anchorSets) {
      const key = [...set].sort().join('\u0000');
      let id = setIds.get(key);
      if (id === undefined) {
        setIds.set(key, (id = setIds.size));
        for (const literal of set) {
          let l = literalIds.get(literal);
          if (l === undefined) {
            literalIds.set(literal, (l = literals.length));
            literals.push(literal);
            literalSets.push([]);
          }
          literalSets[l]!.push(id);
        }
      }
      if (!ids.includes(id)) ids.push(id);
    }
    pattern.sets = Int32Array.from(ids);
    const leading = leadingSet(pattern.source);
    if (leading !== null) pattern.lead = setIds.get([...new Set(leading)].sort().join('\u0000')) ?? -1;
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
  return {
    tables,
    literals,
    literalSets: literalSets.map((ids) => Int32Array.from(ids)),
    setCount: setIds.size,
    hits: new Uint32Array(setIds.size),
    firstAt: new Int32Array(setIds.size),
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

/**
 * The patterns that can match `text`: one pass marks the anchor sets with a
 * literal in the text, then a pattern is a candidate when each of its sets is
 * marked. A pattern that matches always is one (its sets are literals every
 * match contains); most patterns of most texts are not, and never run.
 */
export function candidatePatterns(pack: RulePack, text: string, out: Set<CompiledPattern>): void {
  const filter = pack.prefilter;
  if (++filter.generation === 0xffffffff) {
    filter.hits.fill(0);
    filter.generation = 1;
  }
  const [t2, t3, t4] = filter.tables as [KeyTable, KeyTable, KeyTable];
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
    let key = (c0 << 16) | c1;
    if (key === 0) key = 1;
    // Two-unit literals are non-Latin (an anchor weighs 3, a Latin character 1): Latin text skips that table.
    if (c0 >= 0x370 && probe(t2, key, filter, text, i)) any = true;
    if (i + 2 >= n) continue;
    key = Math.imul(((c0 << 16) | c1) ^ 0x5bd1e995, 0x01000193) ^ c2;
    if (key === 0) key = 1;
    if (probe(t3, key, filter, text, i)) any = true;
    if (i + 3 >= n) continue;
    key = Math.imul(Math.imul(((c0 << 16) | c1) ^ 0x5bd1e995, 0x01000193) ^ c2, 0x01000193) ^ c3;
    if (key === 0) key = 1;
    if (probe(t4, key, filter, text, i)) any = true;
  }
  if (!any) return;
  const { hits, generation } = filter;
  for (const pattern of pack.patterns) {
    const sets = pattern.sets;
    let all = sets.length > 0;
    for (let m = 0; m < sets.length && all; m++) all = hits[sets[m]!] === generation;
    if (all) out.add(pattern);
  }
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
  let hit = false;
  for (let k = 0; k < list.length; k++) {
    const literal = filter.literals[list[k]!]!;
    if (literal.length > 2 && !text.startsWith(literal, at)) continue;
    const sets = filter.literalSets[list[k]!]!;
    for (let m = 0; m < sets.length; m++) {
      const set = sets[m]!;
      if (filter.hits[set] !== filter.generation) {
        filter.hits[set] = filter.generation;
        filter.firstAt[set] = at;
      }
    }
    hit = true;
  }
  return hit;
}
