/**
 * Normalisation before matching: what a model reads past, the detector reads past too.
 *
 * One pass folds case, diacritics (Latin only: Korean and Japanese would decompose),
 * full-width and mathematical letters, collapses whitespace, and drops invisible
 * characters (zero-width, bidi controls, variation selectors) and Unicode tag
 * characters, counting them: a text that hides characters is a signal of its own,
 * and tag characters are decoded to the ASCII they smuggle so it can be re-scanned.
 * A second pass, per token, folds Cyrillic and Greek look-alikes in tokens that mix
 * them with Latin letters (a Russian word is left alone) and leetspeak in tokens
 * that are mostly letters (`1gn0re` → `ignore`, not `sha256` or `3rd`).
 *
 * Every unit of the result remembers the stretch of the input it came from, so a
 * match is reported at its offsets in the original text.
 */
export interface Normalised {
  text: string;
  /** Input offset where unit i starts, and where it ends (exclusive). */
  from: Int32Array;
  to: Int32Array;
  /** Invisible characters dropped (zero-width, bidi controls, variation selectors supplement). */
  invisible: number;
  /** Input offsets of the first and last invisible character, or -1. */
  invisibleFirst: number;
  invisibleLast: number;
  /** Runs of Unicode tag characters, decoded to ASCII. */
  tags: TagRun[];
  /** Look-alike characters folded in mixed-script tokens, and the first one's input offset. */
  homoglyphs: number;
  homoglyphAt: number;
  /** Leetspeak characters folded, and the first one's input offset. */
  leet: number;
  leetAt: number;
}

export interface TagRun {
  start: number;
  end: number;
  text: string;
}

/** Cyrillic and Greek letters (lower case) that render like a Latin letter. */
const HOMOGLYPHS: ReadonlyMap<number, number> = new Map(
  [
    // Cyrillic
    ['а', 'a'],
    ['в', 'b'],
    ['е', 'e'],
    ['ё', 'e'],
    ['һ', 'h'],
    ['і', 'i'],
    ['ї', 'i'],
    ['ј', 'j'],
    ['к', 'k'],
    ['м', 'm'],
    ['н', 'h'],
    ['о', 'o'],
    ['р', 'p'],
    ['с', 'c'],
    ['т', 't'],
    ['у', 'y'],
    ['х', 'x'],
    ['ѕ', 's'],
    ['ԁ', 'd'],
    ['ԛ', 'q'],
    ['ԝ', 'w'],
    ['ɡ', 'g'],
    ['ʏ', 'y'],
    ['ɪ', 'i'],
    // Greek
    ['α', 'a'],
    ['β', 'b'],
    ['ε', 'e'],
    ['η', 'n'],
    ['ι', 'i'],
    ['κ', 'k'],
    ['ν', 'v'],
    ['ο', 'o'],
    ['ρ', 'p'],
    ['τ', 't'],
    ['υ', 'u'],
    ['χ', 'x'],
    ['γ', 'y'],
    ['ω', 'w'],
  ].map(([from, to]) => [from!.charCodeAt(0), to!.charCodeAt(0)]),
);

/** Leetspeak digits and symbols and the letter each stands for. */
const LEET: ReadonlyMap<number, number> = new Map(
  [
    ['0', 'o'],
    ['1', 'i'],
    ['3', 'e'],
    ['4', 'a'],
    ['5', 's'],
    ['7', 't'],
    ['@', 'a'],
    ['$', 's'],
    ['!', 'i'],
    ['|', 'l'],
  ].map(([from, to]) => [from!.charCodeAt(0), to!.charCodeAt(0)]),
);

const isAsciiLetter = (c: number): boolean => c >= 97 && c <= 122;
/** n, r, t after a backslash. */
const isEscapedSpace = (c: number): boolean => c === 110 || c === 114 || c === 116;
/** ", ', \ and / after a backslash. */
const isEscapedQuote = (c: number): boolean => c === 34 || c === 39 || c === 92 || c === 47;
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isCyrillicOrGreek = (c: number): boolean =>
  (c >= 0x370 && c <= 0x52f) || c === 0x261 || c === 0x28f || c === 0x26a;

function isSpace(c: number): boolean {
  return (
    c === 32 ||
    (c >= 9 && c <= 13) ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

/** Characters that render as nothing; counted, except the joiners emoji use. */
function isInvisible(c: number): boolean {
  return (
    c === 0xad ||
    c === 0x34f ||
    c === 0x180e ||
    (c >= 0x200b && c <= 0x200f) ||
    (c >= 0x202a && c <= 0x202e) ||
    (c >= 0x2060 && c <= 0x2064) ||
    (c >= 0x2066 && c <= 0x2069) ||
    c === 0xfeff ||
    c === 0x115f ||
    c === 0x1160 ||
    c === 0x3164 ||
    c === 0xffa0
  );
}

/** Folds of characters outside ASCII, computed once per character: Latin diacritics, compatibility forms. */
const folds = new Map<number, string>();

/**
 * Typographic apostrophes and dashes read as their ASCII forms (`don’t` is `don't`). Typographic double
 * quotes stay: they mark a quotation, where `"` may be JSON (the detector tells the two apart).
 */
const PUNCTUATION: ReadonlyMap<number, string> = new Map([
  [0x2018, "'"],
  [0x2019, "'"],
  [0x201b, "'"],
  [0x2032, "'"],
  [0xb4, "'"],
  [0x2010, '-'],
  [0x2011, '-'],
  [0x2012, '-'],
  [0x2013, '-'],
  [0x2014, '-'],
  [0x2015, '-'],
  [0x2026, '...'],
]);

function fold(cp: number): string {
  let folded = folds.get(cp);
  if (folded === undefined) {
    const char = String.fromCodePoint(cp);
    const punctuation = PUNCTUATION.get(cp);
    if (punctuation !== undefined) folded = punctuation;
    else if ((cp >= 0x80 && cp <= 0x24f) || (cp >= 0x1e00 && cp <= 0x1eff)) {
      // Latin with diacritics: strip the marks (é → e), keep letters without a decomposition (ß, ø).
      folded = char.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
    } else {
      // Mathematical, enclosed, super- and subscript letters read as ASCII (𝐢𝐠𝐧𝐨𝐫𝐞, ⓘ); other scripts as they are.
      const compat = char.normalize('NFKC').toLowerCase();
      folded = /^[\x20-\x7e]+$/.test(compat) && compat !== char ? compat : char.toLowerCase();
    }
    if (folded.length === 0) folded = char;
    if (folds.size < 65_536) folds.set(cp, folded);
  }
  return folded;
}

/**
 * Normalises `text`. `base`, when given, maps each unit of `text` to the input it came
 * from (a decoded view's offsets), so offsets compose across decodings.
 */
export function normalise(text: string, base?: { from: Int32Array; to: Int32Array } | null): Normalised {
  const n = text.length;
  const out = new Output(n, base ?? null);
  const result: Normalised = {
    text: '',
    from: out.from,
    to: out.to,
    invisible: 0,
    invisibleFirst: -1,
    invisibleLast: -1,
    tags: [],
    homoglyphs: 0,
    homoglyphAt: -1,
    leet: 0,
    leetAt: -1,
  };
  const startOf = (i: number): number => (base ? base.from[i]! : i);
  const endOf = (i: number): number => (base ? base.to[i]! : i + 1);
  let tagStart = -1;
  let tagEnd = -1;
  let tagText = '';
  const flushTags = (): void => {
    // A flag emoji's subdivision sequence (🏴 + a region code in tags) is no smuggling.
    const flag = tagStart >= 2 && text.codePointAt(tagStart - 2) === 0x1f3f4 && tagText.length <= 6;
    if (tagStart >= 0 && !flag) result.tags.push({ start: startOf(tagStart), end: endOf(tagEnd - 1), text: tagText });
    tagStart = -1;
    tagText = '';
  };
  let lastSpace = true;
  for (let i = 0; i < n;) {
    const c = text.charCodeAt(i);
    // ASCII, nearly every character of most texts: no call but the write.
    if (c < 0x80) {
      if (tagStart >= 0) flushTags();
      if (c === 32 || (c >= 9 && c <= 13)) {
        if (!lastSpace) out.push(32, i, i + 1);
        lastSpace = true;
      } else if (c === 92 && i + 1 < n && isEscapedSpace(text.charCodeAt(i + 1))) {
        // A JSON or code string's `\n`, `\t`: whitespace, however many times the text was escaped.
        if (!lastSpace) out.push(32, i, i + 2);
        lastSpace = true;
        i += 2;
        continue;
      } else if (c === 92 && i + 1 < n && isEscapedQuote(text.charCodeAt(i + 1))) {
        // `\"` and `\\`: the escape is syntax; the quote or backslash after it is the text.
        i++;
        continue;
      } else {
        out.push(c >= 65 && c <= 90 ? c + 32 : c, i, i + 1);
        lastSpace = false;
      }
      i++;
      continue;
    }
    const cp = text.codePointAt(i)!;
    const width = cp > 0xffff ? 2 : 1;
    if (cp >= 0xe0000 && cp <= 0xe007f) {
      if (tagStart < 0) tagStart = i;
      tagEnd = i + width;
      if (cp >= 0xe0020 && cp <= 0xe007e) tagText += String.fromCharCode(cp - 0xe0000);
      i += width;
      continue;
    }
    if (tagStart >= 0) flushTags();
    if ((cp >= 0xe0100 && cp <= 0xe01ef) || isInvisible(cp)) {
      // The zero-width joiner between emoji renders something: not hiding.
      if (!(cp === 0x200d && !isAsciiLetter(out.last()))) {
        result.invisible++;
        if (result.invisibleFirst < 0) result.invisibleFirst = startOf(i);
        result.invisibleLast = endOf(i + width - 1);
      }
    } else if (cp === 0xfe0f || cp === 0xfe0e || (cp >= 0x300 && cp <= 0x36f)) {
      // Emoji presentation selectors and combining accents (already folded off Latin letters) carry no meaning here.
    } else if (isSpace(cp)) {
      if (!lastSpace) out.push(32, i, i + width);
      lastSpace = true;
    } else if (cp >= 0xff01 && cp <= 0xff5e) {
      const ascii = cp - 0xfee0;
      out.push(ascii >= 65 && ascii <= 90 ? ascii + 32 : ascii, i, i + 1);
      lastSpace = false;
    } else if (isCyrillicOrGreek(cp)) {
      out.push(String.fromCharCode(cp).toLowerCase().charCodeAt(0), i, i + 1);
      lastSpace = false;
    } else if (cp >= 0x600 && cp <= 0x6ff) {
      // Arabic: harakat dropped, alef with hamza or madda read as alef, alef maqsura as ya: spellings vary.
      if (!((cp >= 0x64b && cp <= 0x65f) || cp === 0x670 || cp === 0x640)) {
        out.push(cp === 0x623 || cp === 0x625 || cp === 0x622 ? 0x627 : cp === 0x649 ? 0x64a : cp, i, i + 1);
        lastSpace = false;
      }
    } else if (cp >= 0x2e80 && cp <= 0xd7ff) {
      // CJK, kana, Hangul: caseless, and compatibility folding would decompose Hangul syllables.
      out.push(cp, i, i + 1);
      lastSpace = false;
    } else {
      const folded = fold(cp);
      for (let k = 0; k < folded.length; k++) out.push(folded.charCodeAt(k), i, i + width);
      lastSpace = false;
    }
    i += width;
  }
  if (tagStart >= 0) flushTags();
  if (out.length > 0 && out.last() === 32) out.length--;
  foldTokens(out.units, out.from, out.length, result);
  result.from = out.from.subarray(0, out.length);
  result.to = out.to.subarray(0, out.length);
  result.text = utf16.decode(out.units.subarray(0, out.length));
  return result;
}

const utf16 = new TextDecoder('utf-16le');

/** The normalised units and where each came from, grown as needed (folds can lengthen a text). */
class Output {
  units: Uint16Array;
  from: Int32Array;
  to: Int32Array;
  length = 0;
  readonly base: { from: Int32Array; to: Int32Array } | null;

  constructor(n: number, base: { from: Int32Array; to: Int32Array } | null) {
    this.units = new Uint16Array(n + 16);
    this.from = new Int32Array(n + 16);
    this.to = new Int32Array(n + 16);
    this.base = base;
  }

  push(unit: number, a: number, b: number): void {
    if (this.length === this.units.length) this.grow();
    const at = this.length++;
    this.units[at] = unit;
    const base = this.base;
    if (base === null) {
      this.from[at] = a;
      this.to[at] = b;
    } else {
      this.from[at] = base.from[a]!;
      this.to[at] = base.to[b - 1]!;
    }
  }

  last(): number {
    return this.length > 0 ? this.units[this.length - 1]! : 0;
  }

  private grow(): void {
    const size = this.units.length * 2;
    const units = new Uint16Array(size);
    const from = new Int32Array(size);
    const to = new Int32Array(size);
    units.set(this.units);
    from.set(this.from);
    to.set(this.to);
    this.units = units;
    this.from = from;
    this.to = to;
  }
}

/** Token-level folds: look-alikes in mixed-script tokens, then leetspeak in mostly-letter tokens. */
function foldTokens(units: Uint16Array, from: Int32Array, length: number, result: Normalised): void {
  let i = 0;
  while (i < length) {
    if (!isTokenUnit(units[i]!)) {
      i++;
      continue;
    }
    let end = i;
    let latin = 0;
    let confusable = 0;
    let digits = 0;
    while (end < length && isTokenUnit(units[end]!)) {
      const c = units[end]!;
      if (isAsciiLetter(c)) latin++;
      else if (HOMOGLYPHS.has(c)) confusable++;
      else if (isDigit(c)) digits++;
      end++;
    }
    if (latin > 0 && confusable > 0) {
      for (let k = i; k < end; k++) {
        const latinForm = HOMOGLYPHS.get(units[k]!);
        if (latinForm !== undefined) {
          units[k] = latinForm;
          if (result.homoglyphs++ === 0) result.homoglyphAt = from[k]!;
        }
      }
      latin += confusable;
    }
    // Long tokens are ids and encodings (base64), not words spelt in leet.
    if (latin >= 2 && end - i - latin > 0 && end - i <= 20 && digits * 5 <= (end - i) * 3 && !plainToken(units, i, end))
      foldLeet(units, from, i, end, result);
    i = end;
  }
}

/** Letters, digits, the leetspeak symbols, and Cyrillic and Greek letters make up a token. */
function isTokenUnit(c: number): boolean {
  return isAsciiLetter(c) || isDigit(c) || c === 64 || c === 36 || c === 33 || c === 124 || isCyrillicOrGreek(c);
}

/** Tokens whose digits are no leetspeak: hex (hashes, ids) and ordinals (3rd, 4th). */
function plainToken(units: Uint16Array, start: number, end: number): boolean {
  let hex = true;
  for (let k = start; k < end && hex; k++) {
    const c = units[k]!;
    hex = isDigit(c) || (c >= 97 && c <= 102);
  }
  if (hex && end - start >= 6) return true;
  const word = String.fromCharCode(...units.subarray(start, Math.min(end, start + 12)));
  return /^\d+(?:st|nd|rd|th|s|k|m|x|px|ms|gb|mb|kb|hz|am|pm|d|h)$/.test(word);
}

function foldLeet(units: Uint16Array, from: Int32Array, start: number, end: number, result: Normalised): void {
  const letter = (k: number): boolean => k >= start && k < end && isAsciiLetter(units[k]!);
  let folded = 0;
  for (let a = start; a < end;) {
    if (!LEET.has(units[a]!)) {
      a++;
      continue;
    }
    // A run of leet characters (`10` in pr3v10us) folds as a whole or not at all.
    let b = a;
    let allDigits = true;
    while (b < end && LEET.has(units[b]!)) {
      if (!isDigit(units[b]!)) allDigits = false;
      b++;
    }
    const between = letter(a - 1) && letter(b) && b - a <= 3;
    // Opening a word (1gnore, @ll, $ystem), or closing one after another fold (s3cr3t, ign0r3).
    const opening = a === start && b - a === 1 && letter(b) && units[a] !== 33 && units[a] !== 124;
    const closing = b === end && b - a === 1 && letter(a - 1) && folded > 0 && allDigits;
    if (between || opening || closing) {
      for (let k = a; k < b; k++) {
        units[k] = LEET.get(units[k]!)!;
        if (result.leet++ === 0) result.leetAt = from[k]!;
        folded++;
      }
    }
    a = b;
  }
}

/** Invisible characters in `text` (as the normaliser counts them), for views whose decoding already dropped them. */
export function countInvisible(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (
      c >= 0xad &&
      (isInvisible(c) ||
        (c === 0xdb40 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00 && text.charCodeAt(i + 1) >= 0xdd00))
    )
      count++;
  }
  return count;
}
