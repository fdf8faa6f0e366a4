/**
 * Encoded payloads inside a text, decoded so the rules and the model can read them:
 * base64 (standard and URL-safe), hex (packed or spaced), and rot13 runs. An
 * injection hidden in an encoding is found in its decoded text and reported at the
 * encoded stretch's offsets. Percent-encoding, HTML references and JSON or `\x`
 * escapes are undone earlier, by core's decodedViews (content/decode.ts).
 *
 * Bounded: at most MAX_PAYLOADS payloads of at most MAX_PAYLOAD_CHARS each per text.
 */
export interface Payload {
  via: 'base64' | 'hex' | 'rot13' | 'unicode_tags' | 'hidden_html';
  /** Offsets of the encoded stretch in the scanned text. */
  start: number;
  end: number;
  /** The decoded text. */
  text: string;
}

export const MAX_PAYLOADS = 16;
const MAX_PAYLOAD_CHARS = 8192;

// Runs no longer than a bound: the regex engine never scans a huge run twice.
const BASE64_RUN = /[A-Za-z0-9+/_-]{20,8192}={0,2}/g;
const HEX_RUN = /(?:[0-9A-Fa-f]{2}[ :]?){12,4096}/g;

/** Base64 and hex payloads of `text` that decode to readable text. */
export function encodedPayloads(text: string, out: Payload[]): void {
  if (out.length >= MAX_PAYLOADS) return;
  // One pass for the longest runs either encoding needs: most texts have neither, and skip both regexes.
  const { base64Run, hexDigits } = runs(text);
  if (hexDigits >= 24) scanHex(text, out);
  if (base64Run >= 20) scanBase64(text, out);
}

/** Per ASCII unit: 1 when base64 (either alphabet), 2 when a hex digit, 4 when a separator of spaced hex. */
const UNIT_CLASS = (() => {
  const table = new Uint8Array(128);
  const mark = (chars: string, bit: number): void => {
    for (const c of chars) table[c.charCodeAt(0)]! |= bit;
  };
  mark('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-', 1);
  mark('0123456789abcdefABCDEF', 2);
  mark(' :', 4);
  return table;
})();

/** The longest run of base64 characters, and the most hex digits in one run of hex digits, spaces and colons. */
function runs(text: string): { base64Run: number; hexDigits: number } {
  let base64Run = 0;
  let hexDigits = 0;
  let b = 0;
  let h = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const k = c < 128 ? UNIT_CLASS[c]! : 0;
    if ((k & 1) !== 0) {
      if (++b > base64Run) base64Run = b;
    } else b = 0;
    if ((k & 2) !== 0) {
      if (++h > hexDigits) hexDigits = h;
    } else if ((k & 4) === 0) h = 0;
  }
  return { base64Run, hexDigits };
}

function scanHex(text: string, out: Payload[]): void {
  // Each regex is one linear scan; a run qualifies only when its decoding reads as text.
  for (const match of text.matchAll(HEX_RUN)) {
    const run = match[0].replace(/[ :]/g, '');
    if (run.length < 24 || run.length % 2 !== 0) continue;
    const decoded = readable(Buffer.from(run, 'hex'));
    if (decoded !== null)
      out.push({ via: 'hex', start: match.index, end: match.index + match[0].length, text: decoded });
    if (out.length >= MAX_PAYLOADS) return;
  }
}

function scanBase64(text: string, out: Payload[]): void {
  for (const match of text.matchAll(BASE64_RUN)) {
    const run = match[0];
    // Hex runs were handled above; a run of one case and digits only is an id, not base64 of text.
    if (/^[0-9A-Fa-f]+$/.test(run) || !/[a-z]/.test(run) || !/[A-Z]/.test(run)) continue;
    const decoded = readable(Buffer.from(run, 'base64'));
    if (decoded !== null) out.push({ via: 'base64', start: match.index, end: match.index + run.length, text: decoded });
    if (out.length >= MAX_PAYLOADS) return;
  }
}

/** The bytes as UTF-8 text when they read as words (letters and spaces, few controls); else null. */
export function readable(bytes: Buffer): string | null {
  if (bytes.length < 8) return null;
  const text = bytes.subarray(0, MAX_PAYLOAD_CHARS).toString('utf8');
  let letters = 0;
  let spaces = 0;
  let bad = 0;
  let wide = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90)) letters++;
    else if (c === 32) spaces++;
    else if (c === 0xfffd || (c < 32 && c !== 10 && c !== 13 && c !== 9) || c === 127) bad++;
    else if (c >= 0x400) wide++;
  }
  const words = spaces > 0 || wide >= 4;
  return words && bad * 50 <= text.length && (letters + spaces + wide) * 10 >= text.length * 7 ? text : null;
}

/** Common English words, and their rot13 forms: a stretch of rot13 turns the second into the first. */
const COMMON = [
  'the',
  'and',
  'you',
  'your',
  'all',
  'are',
  'this',
  'that',
  'with',
  'for',
  'not',
  'now',
  'ignore',
  'previous',
  'instructions',
  'system',
  'prompt',
  'reveal',
  'secret',
  'password',
  'tell',
  'me',
  'from',
  'what',
  'print',
  'any',
  'rules',
  'must',
  'of',
  'to',
  'is',
  'it',
  'do',
  'send',
  'data',
  'user',
  'key',
];
const rot = (word: string): string =>
  word.replace(/[a-z]/g, (c) => String.fromCharCode(((c.charCodeAt(0) - 97 + 13) % 26) + 97));
const PLAIN = new Set(COMMON);
const ROT13_MARKERS = [
  'gur ',
  'naq ',
  'lbh',
  'nyy ',
  'vtaber',
  'cebzcg',
  'flfgrz',
  'vafgehpgvba',
  'frperg',
  'cnffjbeq',
  'guvf ',
  'jvgu ',
];
const ROTATED = new Set(COMMON.map(rot).filter((word) => !PLAIN.has(word)));

/**
 * Stretches of a normalised (lower-case) text that read as English after rot13:
 * at least three common words within a dozen tokens where the plain reading has
 * fewer. Offsets are in the normalised text.
 */
export function rot13Stretches(text: string, out: Payload[]): void {
  // Three rot13 words need at least one of these frequent ones: a few substring searches spare most texts the word pass.
  if (!ROT13_MARKERS.some((marker) => text.includes(marker))) return;
  let windowStart = -1;
  let lastHit = -1;
  let hits = 0;
  let plain = 0;
  let tokens = 0;
  const close = (): void => {
    if (hits >= 3 && hits > plain && out.length < MAX_PAYLOADS) {
      out.push({ via: 'rot13', start: windowStart, end: lastHit, text: rot(text.slice(windowStart, lastHit)) });
    }
    windowStart = -1;
    hits = 0;
    plain = 0;
  };
  const n = Math.min(text.length, 64 * 1024);
  for (let i = 0; i < n;) {
    const c = text.charCodeAt(i);
    if (c < 97 || c > 122) {
      i++;
      continue;
    }
    let end = i + 1;
    while (end < n && text.charCodeAt(end) >= 97 && text.charCodeAt(end) <= 122) end++;
    tokens++;
    if (end - i <= 12) {
      const word = text.slice(i, end);
      if (ROTATED.has(word)) {
        if (windowStart < 0) windowStart = i;
        // Two-letter rot13 forms are often words of other languages (`vf`, `zr`): they count half.
        hits += end - i >= 3 ? 1 : 0.5;
        lastHit = end;
        tokens = 0;
      } else if (PLAIN.has(word) && windowStart >= 0) plain++;
    }
    if (windowStart >= 0 && tokens > 12) {
      // Twelve tokens since the stretch's last rot13 word: it has ended.
      close();
    }
    i = end;
  }
  if (windowStart >= 0) close();
}
