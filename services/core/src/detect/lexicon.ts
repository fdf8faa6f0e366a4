import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { AispmError } from '../errors.ts';
import { normalise } from './normalise.ts';
import { RULES_DIR } from './rule-pack.ts';

/**
 * The intent lexicon: words and stems in eleven languages grouped into the
 * concepts injections are made of (ignore, earlier, instructions, reveal, system
 * prompt, persona, unrestricted, send, secret data, ...), and the ones security
 * talk is made of (example, attack, detect). The learned scorer reads which
 * concepts a text holds and which follow which nearby (features.ts): a wording it
 * never saw, in any of the languages, still lands on the same concept pairs.
 *
 * Terms are normalised as texts are (normalise.ts). A term in an alphabetic script
 * (Latin, Cyrillic, Greek, Hangul, Arabic) matches where a word starts and may end
 * anywhere (a stem: `instruct` matches `instructions`); an Arabic word may carry
 * one proclitic letter first (و, ف, ب, ل). A term in Han or kana matches anywhere.
 * A term written with a final `$` is a whole word (`ai$` is not `aim`).
 *
 * Matching walks a trie whose edges are in one open-addressing table of typed
 * arrays, from each word start (each Han or kana character): no string is built.
 */
export const DEFAULT_LEXICON = join(RULES_DIR, 'injection/lexicon.v1.json');

const lexiconSchema = z
  .object({
    lexicon: z.string().regex(/^[a-z0-9_-]+$/),
    version: z.number().int().min(1),
    description: z.string().optional(),
    concepts: z.record(
      z.string().regex(/^[a-z_]{2,32}$/),
      z.record(z.string().regex(/^[a-z]{2,3}$/), z.array(z.string().min(1).max(60))),
    ),
  })
  .strict();

export interface Lexicon {
  file: string;
  concepts: string[];
  /** Trie edges: (node, unit) → child, open addressing; key 0 is empty. */
  edgeBits: number;
  edgeFrom: Int32Array;
  edgeUnit: Uint16Array;
  edgeTo: Int32Array;
  /** Per node, the concepts a term ending there names (a bit each), or 0. */
  accepts: Int32Array;
  /** The same for whole-word terms: they count only where the word ends too. */
  acceptsWord: Int32Array;
  /** The root's children by unit, -1 where none: most walks end at the first step, without hashing. */
  rootChild: Int32Array;
}

const lexicons = new Map<string, Lexicon>();

/** The lexicon of `file` (a path, or a name under rules/injection/), read and compiled once per process. */
export function loadLexicon(file: string = DEFAULT_LEXICON): Lexicon {
  const path = isAbsolute(file) ? file : join(RULES_DIR, 'injection', file);
  let lexicon = lexicons.get(path);
  if (lexicon === undefined) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new AispmError('model_invalid', `lexicon ${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
    lexicon = compileLexicon(raw, path);
    lexicons.set(path, lexicon);
  }
  return lexicon;
}

export function compileLexicon(raw: unknown, file = '<inline>'): Lexicon {
  const parsed = lexiconSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AispmError('model_invalid', `lexicon ${file}: field ${issue.path.join('.')}: ${issue.message}`);
  }
  const concepts = Object.keys(parsed.data.concepts);
  if (concepts.length > 31) throw new AispmError('model_invalid', `lexicon ${file}: at most 31 concepts`);
  // Build the trie with maps, then pack its edges.
  const children: Map<number, number>[] = [new Map<number, number>()];
  const accepts: number[] = [0];
  const acceptsWord: number[] = [0];
  concepts.forEach((concept, bit) => {
    for (const terms of Object.values(parsed.data.concepts[concept]!)) {
      for (const term of terms) {
        const whole = term.endsWith('$');
        const text = normalise(whole ? term.slice(0, -1) : term).text;
        if (text.length === 0) continue;
        let node = 0;
        for (let i = 0; i < text.length; i++) {
          const unit = text.charCodeAt(i);
          let next = children[node]!.get(unit);
          if (next === undefined) {
            next = children.length;
            children.push(new Map<number, number>());
            accepts.push(0);
            acceptsWord.push(0);
            children[node]!.set(unit, next);
          }
          node = next;
        }
        if (whole) acceptsWord[node]! |= 1 << bit;
        else accepts[node]! |= 1 << bit;
      }
    }
  });
  const edges = children.reduce((n, map) => n + map.size, 0);
  let edgeBits = 4;
  while (1 << edgeBits < edges * 2) edgeBits++;
  const size = 1 << edgeBits;
  const edgeFrom = new Int32Array(size).fill(-1);
  const edgeUnit = new Uint16Array(size);
  const edgeTo = new Int32Array(size);
  children.forEach((map, node) => {
    for (const [unit, child] of map) {
      let slot = edgeSlot(node, unit, edgeBits);
      while (edgeFrom[slot] !== -1) slot = (slot + 1) & (size - 1);
      edgeFrom[slot] = node;
      edgeUnit[slot] = unit;
      edgeTo[slot] = child;
    }
  });
  return {
    file,
    concepts,
    edgeBits,
    edgeFrom,
    edgeUnit,
    edgeTo,
    accepts: Int32Array.from(accepts),
    acceptsWord: Int32Array.from(acceptsWord),
    rootChild: (() => {
      const table = new Int32Array(65_536).fill(-1);
      for (const [unit, next] of children[0]!) table[unit] = next;
      return table;
    })(),
  };
}

const edgeSlot = (node: number, unit: number, bits: number): number =>
  Math.imul(Math.imul(node, 0x9e3779b1) ^ unit, 0x85ebca6b) >>> (32 - bits);

function child(lexicon: Lexicon, node: number, unit: number): number {
  const mask = (1 << lexicon.edgeBits) - 1;
  let slot = edgeSlot(node, unit, lexicon.edgeBits);
  for (;;) {
    const from = lexicon.edgeFrom[slot]!;
    if (from === -1) return -1;
    if (from === node && lexicon.edgeUnit[slot] === unit) return lexicon.edgeTo[slot]!;
    slot = (slot + 1) & mask;
  }
}

/**
 * Per unit: WORD for letters and digits of scripts written in words (a term of theirs starts where a word
 * does), ANYWHERE for Han and kana (no spaces between words: a term may start anywhere) and ASCII
 * punctuation (which opens terms of its own: `![`, `.env`, `<system>`), 0 for the rest.
 */
const WORD = 1;
const ANYWHERE = 2;
const UNIT_CLASS = (() => {
  const table = new Uint8Array(65_536);
  for (let c = 0; c < 65_536; c++) {
    if (
      (c >= 97 && c <= 122) ||
      (c >= 48 && c <= 57) ||
      (c >= 0xc0 && c < 0x2000 && c !== 0xd7 && c !== 0xf7) ||
      (c >= 0xac00 && c <= 0xd7af)
    )
      table[c] = WORD;
    else if ((c >= 0x3040 && c <= 0x30ff) || (c >= 0x3400 && c <= 0x9fff) || (c > 32 && c < 127)) table[c] = ANYWHERE;
  }
  return table;
})();
/** Arabic proclitics written onto the next word: and, so, with, for. */
const isProclitic = (c: number): boolean => c === 0x648 || c === 0x641 || c === 0x628 || c === 0x644;

/**
 * The concept occurrences of a normalised text, in order: `concepts[k]` holds the concept bits of the k-th
 * occurrence and `at[k]` where it starts. Returns how many (at most the arrays' length).
 */
export function conceptsOf(lexicon: Lexicon, text: string, concepts: Int32Array, at: Int32Array): number {
  const n = text.length;
  const { accepts, acceptsWord, rootChild } = lexicon;
  let count = 0;
  let previousClass = 0;
  let previous = 32;
  for (let i = 0; i < n && count < concepts.length; i++) {
    const c = text.charCodeAt(i);
    const unitClass = UNIT_CLASS[c]!;
    const start =
      unitClass === ANYWHERE ||
      (unitClass === WORD && previousClass !== WORD) ||
      // A word after an Arabic proclitic: `وتجاهل` is `and ignore`.
      (c >= 0x600 && c <= 0x6ff && isProclitic(previous) && (i < 2 || UNIT_CLASS[text.charCodeAt(i - 2)] !== WORD));
    previousClass = unitClass;
    previous = c;
    if (!start) continue;
    let node = rootChild[c]!;
    if (node < 0) continue;
    let found = accepts[node]!;
    if (acceptsWord[node] !== 0 && (i + 1 === n || UNIT_CLASS[text.charCodeAt(i + 1)] !== WORD))
      found |= acceptsWord[node]!;
    for (let k = i + 1; k < n; k++) {
      node = child(lexicon, node, text.charCodeAt(k));
      if (node < 0) break;
      found |= accepts[node]!;
      if (acceptsWord[node] !== 0 && (k + 1 === n || UNIT_CLASS[text.charCodeAt(k + 1)] !== WORD))
        found |= acceptsWord[node]!;
    }
    if (found !== 0) {
      concepts[count] = found;
      at[count++] = i;
    }
  }
  return count;
}
