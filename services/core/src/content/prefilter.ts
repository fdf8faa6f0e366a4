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
  #lower: string | undefined;

  constructor(text: string) {
    this.text = text;
    this.length = text.length;
  }

  lower(): string {
    return (this.#lower ??= this.text.toLowerCase());
  }
}

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
  let maxDigit = 0;
  let maxGrouped = 0;
  let maxAlnum = 0;
  let maxWord = 0;
  let maxBase64 = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const digit = c >= 48 && c <= 57;
    const alnum = digit || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
    if (digit) {
      digits++;
      digitRun++;
      if (digitRun > maxDigit) maxDigit = digitRun;
      grouped++;
      if (grouped > maxGrouped) maxGrouped = grouped;
    } else {
      digitRun = 0;
      if (c !== 32 && c !== 46 && c !== 0xa0 && c !== 45) grouped = 0;
    }
    if (alnum) {
      alnumRun++;
      if (alnumRun > maxAlnum) maxAlnum = alnumRun;
    } else alnumRun = 0;
    if (alnum || c === 95 /* _ */ || c === 45 /* - */) {
      wordRun++;
      if (wordRun > maxWord) maxWord = wordRun;
    } else wordRun = 0;
    if (alnum || c === 43 /* + */ || c === 47 /* / */) {
      base64Run++;
      if (base64Run > maxBase64) maxBase64 = base64Run;
    } else base64Run = 0;
    if (!alnum) {
      if (c === 64) chars |= CHAR_AT;
      else if (c === 58) chars |= CHAR_COLON;
      else if (c === 61) chars |= CHAR_EQUALS;
      else if (c === 46) chars |= CHAR_DOT;
      else if (c === 32 || c === 9) chars |= CHAR_BLANK;
      else if (c === 43) chars |= CHAR_PLUS;
    }
  }
  f.chars = chars;
  f.digits = digits;
  f.digitRun = maxDigit;
  f.groupedDigits = maxGrouped;
  f.alnumRun = maxAlnum;
  f.wordRun = maxWord;
  f.base64Run = maxBase64;
  return f;
}

/** Whether the text contains any of the literals (case-sensitive). */
export function hasAny(text: string, literals: readonly string[]): boolean {
  for (const literal of literals) if (text.includes(literal)) return true;
  return false;
}
