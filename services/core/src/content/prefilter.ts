/**
 * What a text holds, measured in one pass, so a redaction rule that cannot
 * match it is skipped without running its pattern.
 *
 * Most texts redaction sees are short identifiers and metadata (`gpt-4o`,
 * `agent-3`, `api.openai.com`) that no rule matches, and running 37 patterns
 * over each of them costs more than the rest of a span's mapping. Each rule
 * therefore states a necessary condition on these features (redaction-rules.ts,
 * `needs`): a literal its pattern cannot match without, a character it
 * requires, the shortest run of its characters, the digits its check counts.
 * A condition may let through a text the rule then does not match (that only
 * costs the pattern's run), never the reverse; prefilter.test.ts checks each
 * against the rule itself on the shared corpus in every encoding and on
 * generated texts.
 *
 * The features are of a whole view's text; the rules run on stretches of it
 * (what earlier rules left unmasked) and look at context within the stretch,
 * so a condition true of the stretch is true of the view.
 */
export interface TextFeatures {
  readonly text: string;
  readonly length: number;
  /** CHAR_* bits of the characters present. */
  readonly chars: number;
  /** ASCII digits in all. */
  readonly digits: number;
  /** The longest run of ASCII digits. */
  readonly digitRun: number;
  /** The most ASCII digits in one stretch of digits and `[ .\u00a0-]` (grouped numbers: cards, SSNs, phones). */
  readonly groupedDigits: number;
  /** The longest run of `[A-Za-z0-9]`. */
  readonly alnumRun: number;
  /** The longest run of `[A-Za-z0-9_-]`. */
  readonly wordRun: number;
  /** The longest run of `[A-Za-z0-9+/]`. */
  readonly base64Run: number;
  /** Whether some run of `[A-Za-z0-9+/]` is exactly 40 long and not followed by `=`. */
  readonly base64Run40: boolean;
  /** The longest run of ASCII letters directly followed by a digit. */
  readonly lettersBeforeDigit: number;
  /** The longest run of `[A-Za-z0-9_.-]` holding at least two dots (tokens in dotted parts). */
  readonly dottedWordRun: number;
  /** The most dots in one run of digits and dots (dotted quads). */
  readonly dottedDigits: number;
  /** The longest run of digits directly followed by `:`. */
  readonly digitsBeforeColon: number;
  /** The longest run of digits (with at most one `-` after it) directly followed by an upper-case letter. */
  readonly digitsBeforeUpper: number;
  /** The text lower-cased (computed on first use): case-insensitive patterns' literals, which are all ASCII. */
  lower(): string;
}

export const CHAR_AT = 1;
export const CHAR_COLON = 2;
export const CHAR_EQUALS = 4;
export const CHAR_DOT = 8;
/** A space or a tab (the only characters of `[ \t]`). */
export const CHAR_BLANK = 16;
export const CHAR_PLUS = 32;

class Features implements TextFeatures {
  readonly text: string;
  readonly length: number;
  chars = 0;
  digits = 0;
  digitRun = 0;
  groupedDigits = 0;
  alnumRun = 0;
  wordRun = 0;
  base64Run = 0;
  base64Run40 = false;
  lettersBeforeDigit = 0;
  dottedWordRun = 0;
  dottedDigits = 0;
  digitsBeforeColon = 0;
  digitsBeforeUpper = 0;
  #lower: string | undefined;

  constructor(text: string) {
    this.text = text;
    this.length = text.length;
  }

  lower(): string {
    return (this.#lower ??= this.text.toLowerCase());
  }
}

// Classes of the ASCII characters, as bits, so the pass does one table load per unit.
const DIGIT = 1;
const UPPER = 2;
const LOWER = 4;
/** `_` and `-`: word characters of tokens. */
const WORDISH = 8;
/** `+` and `/`: base64. */
const B64ISH = 16;
/** Separators of grouped digits: space, `.`, `-` (and U+00A0, handled apart). */
const GROUP = 32;
const DOT = 64;
const CLASS = new Uint8Array(128);
for (let c = 48; c <= 57; c++) CLASS[c] = DIGIT;
for (let c = 65; c <= 90; c++) CLASS[c] = UPPER;
for (let c = 97; c <= 122; c++) CLASS[c] = LOWER;
CLASS[95] = WORDISH;
CLASS[45] = WORDISH | GROUP;
CLASS[43] = B64ISH;
CLASS[47] = B64ISH;
CLASS[32] = GROUP;
CLASS[46] = GROUP | DOT;
/** CHAR_* bit of each ASCII character. */
const CHAR_BIT = new Uint8Array(128);
CHAR_BIT[64] = CHAR_AT;
CHAR_BIT[58] = CHAR_COLON;
CHAR_BIT[61] = CHAR_EQUALS;
CHAR_BIT[46] = CHAR_DOT;
CHAR_BIT[32] = CHAR_BLANK;
CHAR_BIT[9] = CHAR_BLANK;
CHAR_BIT[43] = CHAR_PLUS;

/** One pass over the text's UTF-16 units. */
export function textFeatures(text: string): TextFeatures {
  const f = new Features(text);
  let chars = 0;
  let digits = 0;
  let digitRun = 0;
  let grouped = 0;
  let alnumRun = 0;
  let wordRun = 0;
  let base64Run = 0;
  let letterRun = 0;
  let dottedRun = 0;
  let dotsInRun = 0;
  let quadDots = 0;
  let quadDigits = 0;
  let dashAfterDigits = 0;
  let maxDigit = 0;
  let maxGrouped = 0;
  let maxAlnum = 0;
  let maxWord = 0;
  let maxBase64 = 0;
  let run40 = false;
  let maxLettersBeforeDigit = 0;
  let maxDotted = 0;
  let maxQuadDots = 0;
  let maxBeforeColon = 0;
  let maxBeforeUpper = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    const k = c < 128 ? CLASS[c]! : 0;
    if (k & DIGIT) {
      digits++;
      digitRun++;
      grouped++;
      if (letterRun > maxLettersBeforeDigit) maxLettersBeforeDigit = letterRun;
      letterRun = 0;
      quadDigits++;
    } else {
      if (digitRun > maxDigit) maxDigit = digitRun;
      if (c === 58 && digitRun > maxBeforeColon) maxBeforeColon = digitRun;
      if (k & UPPER) {
        const before = digitRun > 0 ? digitRun : dashAfterDigits;
        if (before > maxBeforeUpper) maxBeforeUpper = before;
      }
      // Digits then one `-`: an upper-case letter may still follow them (12345678-Z).
      dashAfterDigits = c === 45 ? digitRun : 0;
      digitRun = 0;
      if (grouped > maxGrouped) maxGrouped = grouped;
      if ((k & GROUP) === 0 && c !== 0xa0) grouped = 0;
      letterRun = k & (UPPER | LOWER) ? letterRun + 1 : 0;
      if (k & DOT) {
        if (quadDigits > 0) quadDots++;
        else quadDots = 0;
        quadDigits = 0;
        if (quadDots > maxQuadDots) maxQuadDots = quadDots;
      } else {
        quadDots = 0;
        quadDigits = 0;
      }
    }
    if (k & (DIGIT | UPPER | LOWER)) alnumRun++;
    else {
      if (alnumRun > maxAlnum) maxAlnum = alnumRun;
      alnumRun = 0;
    }
    if (k & (DIGIT | UPPER | LOWER | WORDISH)) wordRun++;
    else {
      if (wordRun > maxWord) maxWord = wordRun;
      wordRun = 0;
    }
    if (k & (DIGIT | UPPER | LOWER | WORDISH | DOT)) {
      dottedRun++;
      if (k & DOT) dotsInRun++;
    } else {
      if (dotsInRun >= 2 && dottedRun > maxDotted) maxDotted = dottedRun;
      dottedRun = 0;
      dotsInRun = 0;
    }
    if (k & (DIGIT | UPPER | LOWER | B64ISH)) base64Run++;
    else {
      if (base64Run > maxBase64) maxBase64 = base64Run;
      if (base64Run === 40 && c !== 61) run40 = true;
      base64Run = 0;
    }
    if (c < 128) chars |= CHAR_BIT[c]!;
  }
  // Runs still open at the end of the text.
  if (digitRun > maxDigit) maxDigit = digitRun;
  if (grouped > maxGrouped) maxGrouped = grouped;
  if (alnumRun > maxAlnum) maxAlnum = alnumRun;
  if (wordRun > maxWord) maxWord = wordRun;
  if (dotsInRun >= 2 && dottedRun > maxDotted) maxDotted = dottedRun;
  if (base64Run > maxBase64) maxBase64 = base64Run;
  if (base64Run === 40) run40 = true;
  f.chars = chars;
  f.digits = digits;
  f.digitRun = maxDigit;
  f.groupedDigits = maxGrouped;
  f.alnumRun = maxAlnum;
  f.wordRun = maxWord;
  f.base64Run = maxBase64;
  f.base64Run40 = run40;
  f.lettersBeforeDigit = maxLettersBeforeDigit;
  f.dottedWordRun = maxDotted;
  f.dottedDigits = maxQuadDots;
  f.digitsBeforeColon = maxBeforeColon;
  f.digitsBeforeUpper = maxBeforeUpper;
  return f;
}

/** Whether the text contains any of the literals (case-sensitive). */
export function hasAny(text: string, literals: readonly string[]): boolean {
  for (const literal of literals) if (text.includes(literal)) return true;
  return false;
}
