/**
 * Decoded views of a text, for redaction that sees through encodings.
 *
 * A secret rarely travels as itself: it sits in JSON inside JSON (`\"`, `\\\"`,
 * `\u0040`), in a URL (`%40`, `%2B`, `+` for a space), in HTML (`&#64;`), or has
 * zero-width characters or full-width digits slipped in. Each view undoes one
 * more layer of those encodings and remembers, for each of its UTF-16 units,
 * the range of the original text it came from. Redaction finds matches in a
 * view and masks the corresponding range of the original, so the stored text
 * keeps its own encoding (a JSON payload stays valid JSON, a URL stays a URL)
 * and only the secret's bytes, however encoded, are replaced.
 */
export interface View {
  text: string;
  /** Original offset where unit i starts; null for the original itself (identity). */
  from: Int32Array | null;
  /** Original offset where unit i ends (exclusive); null for the original itself. */
  to: Int32Array | null;
  /** The encodings undone to reach it: `text` (or absent) for the original, else e.g. `json`, `json+url`, `html`. */
  via?: string;
}

/** Layers of encoding undone at most (JSON in JSON in a URL ... nests rarely deeper). */
export const MAX_DECODE_DEPTH = 8;

/** Cheap test for anything a decoding pass could change. */
const DECODABLE =
  /[\\%&+\u00a0\u00ad\u180e\u2000-\u200f\u202a-\u202f\u205f-\u2064\u2066-\u2069\u3000\ufeff\uff01-\uff5e]/;

/**
 * The original, then each further decoded view that differs from the one before
 * it. A text with `+` and percent escapes is decoded twice: first as a form
 * (`+` is a space wherever percent escapes are decoded in the same pass), then
 * with `+` kept (so does a query string without escapes); the form chain comes first, so its matches (a phone number
 * after `+`, a JSON value after `:+`) are not cut up by the other chain's.
 */
export function decodedViews(text: string): View[] {
  const original: View = { text, from: null, to: null, via: 'text' };
  if (!DECODABLE.test(text)) return [original];
  const formLike = text.includes('+') && (PERCENT.test(text) || QUERY.test(text));
  const chains = formLike ? [true, false] : [false];
  const views = [original];
  for (const form of chains) {
    let current = original;
    for (let depth = 0; depth < MAX_DECODE_DEPTH; depth++) {
      const next = decodeOnce(current, form && (depth === 0 || PERCENT.test(current.text)));
      if (next === null) break;
      views.push(next);
      current = next;
    }
  }
  return views;
}

const PERCENT = /%[0-9A-Fa-f]{2}/;
/** A query string's `?name=` or `&name=`. */
const QUERY = /[?&][^\s=&]{1,64}=/;

/** Original offsets [start, end) of view units [a, b). */
export function originalRange(view: View, a: number, b: number): [number, number] {
  if (view.from === null || view.to === null) return [a, b];
  return [view.from[a]!, view.to[b - 1]!];
}

const SIMPLE_ESCAPES = new Map<string, string>([
  ['"', '"'],
  ['\\', '\\'],
  ['/', '/'],
  ["'", "'"],
  ['n', '\n'],
  ['r', '\r'],
  ['t', '\t'],
  ['b', '\b'],
  ['f', '\f'],
]);

const ENTITIES = new Map<string, string>([
  ['quot', '"'],
  ['amp', '&'],
  ['lt', '<'],
  ['gt', '>'],
  ['apos', "'"],
  ['nbsp', ' '],
  ['commat', '@'],
  ['plus', '+'],
  ['period', '.'],
  ['colon', ':'],
  ['equals', '='],
]);

function hexAt(text: string, at: number, length: number): number {
  if (at + length > text.length) return -1;
  let value = 0;
  for (let i = at; i < at + length; i++) {
    const c = text.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (d < 0) return -1;
    value = value * 16 + d;
  }
  return value;
}

/** Invisible characters dropped from a view: zero-width, bidi controls, soft hyphen, BOM. */
function isInvisible(c: number): boolean {
  return (
    c === 0xad ||
    c === 0x180e ||
    (c >= 0x200b && c <= 0x200f) ||
    (c >= 0x202a && c <= 0x202e) ||
    (c >= 0x2060 && c <= 0x2064) ||
    (c >= 0x2066 && c <= 0x2069) ||
    c === 0xfeff
  );
}

function isOtherSpace(c: number): boolean {
  return c === 0xa0 || (c >= 0x2000 && c <= 0x200a) || c === 0x202f || c === 0x205f || c === 0x3000;
}

/**
 * One decoding pass: backslash escapes (JSON, JS, Python `\xHH`), percent
 * escapes (UTF-8 sequences too), HTML character references, invisible
 * characters dropped, unusual spaces and full-width ASCII folded; with
 * `plusAsSpace`, a literal `+` becomes a space (form encoding). Null when nothing changed.
 */
function decodeOnce(view: View, plusAsSpace: boolean): View | null {
  const text = view.text;
  const n = text.length;
  const out: string[] = [];
  const from = new Int32Array(n);
  const to = new Int32Array(n);
  let length = 0;
  let changed = false;
  /** ENCODING_* bits of what this pass undid. */
  let undone = 0;
  const start = (i: number): number => (view.from === null ? i : view.from[i]!);
  const end = (i: number): number => (view.to === null ? i + 1 : view.to[i]!);
  const emit = (unit: string, a: number, b: number): void => {
    out.push(unit);
    from[length] = start(a);
    to[length] = end(b - 1);
    length++;
  };
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (plusAsSpace && c === 43) {
      emit(' ', i, i + 1);
      i++;
      changed = true;
      undone |= ENCODING_FORM;
      continue;
    }
    if (c === 92 /* \ */ && i + 1 < n) {
      const next = text[i + 1]!;
      const simple = SIMPLE_ESCAPES.get(next);
      if (simple !== undefined) {
        emit(simple, i, i + 2);
        i += 2;
        changed = true;
        undone |= ENCODING_JSON;
        continue;
      }
      if (next === 'u') {
        const code = hexAt(text, i + 2, 4);
        if (code >= 0) {
          emit(String.fromCharCode(code), i, i + 6);
          i += 6;
          changed = true;
          undone |= ENCODING_JSON;
          continue;
        }
      }
      if (next === 'x') {
        const code = hexAt(text, i + 2, 2);
        if (code >= 0) {
          emit(String.fromCharCode(code), i, i + 4);
          i += 4;
          changed = true;
          undone |= ENCODING_JSON;
          continue;
        }
      }
    } else if (c === 37 /* % */) {
      const decoded = percentSequence(text, i);
      if (decoded !== null) {
        for (const unit of decoded.units) emit(unit, i, decoded.end);
        i = decoded.end;
        changed = true;
        undone |= ENCODING_URL;
        continue;
      }
    } else if (c === 38 /* & */) {
      const entity = /^&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([A-Za-z]{2,8}));/.exec(text.slice(i, i + 12));
      if (entity) {
        const code = entity[1] ? Number(entity[1]) : entity[2] ? parseInt(entity[2], 16) : -1;
        const named = entity[3] ? ENTITIES.get(entity[3].toLowerCase()) : undefined;
        const value = named ?? (code >= 0 && code <= 0x10ffff ? String.fromCodePoint(code) : undefined);
        if (value !== undefined) {
          for (const unit of value) for (let k = 0; k < unit.length; k++) emit(unit[k]!, i, i + entity[0].length);
          i += entity[0].length;
          changed = true;
          undone |= ENCODING_HTML;
          continue;
        }
      }
    } else if (isInvisible(c)) {
      i++;
      changed = true;
      undone |= ENCODING_UNICODE;
      continue;
    } else if (isOtherSpace(c)) {
      emit(' ', i, i + 1);
      i++;
      changed = true;
      undone |= ENCODING_UNICODE;
      continue;
    } else if (c >= 0xff01 && c <= 0xff5e) {
      emit(String.fromCharCode(c - 0xfee0), i, i + 1);
      i++;
      changed = true;
      undone |= ENCODING_UNICODE;
      continue;
    }
    emit(text[i]!, i, i + 1);
    i++;
  }
  if (!changed) return null;
  return {
    text: out.join(''),
    from: from.subarray(0, length),
    to: to.subarray(0, length),
    via: viaName(view.via, undone),
  };
}

const ENCODING_JSON = 1;
const ENCODING_URL = 2;
const ENCODING_FORM = 4;
const ENCODING_HTML = 8;
const ENCODING_UNICODE = 16;
const ENCODING_NAMES: [number, string][] = [
  [ENCODING_JSON, 'json'],
  [ENCODING_URL, 'url'],
  [ENCODING_FORM, 'form'],
  [ENCODING_HTML, 'html'],
  [ENCODING_UNICODE, 'unicode'],
];

/** The view's `via`: what the view before it undid, then what this pass undid (each name once). */
function viaName(before: string | undefined, undone: number): string {
  const names = before === undefined || before === 'text' ? [] : before.split('+');
  for (const [bit, name] of ENCODING_NAMES) if ((undone & bit) !== 0 && !names.includes(name)) names.push(name);
  return names.join('+');
}

/** A `%XX` escape, or a whole UTF-8 sequence of them, decoded; null when not a valid escape. */
function percentSequence(text: string, at: number): { units: string[]; end: number } | null {
  const lead = hexAt(text, at + 1, 2);
  if (lead < 0) return null;
  if (lead < 0x80) return { units: [String.fromCharCode(lead)], end: at + 3 };
  const count =
    lead >= 0xc2 && lead <= 0xdf ? 1 : lead >= 0xe0 && lead <= 0xef ? 2 : lead >= 0xf0 && lead <= 0xf4 ? 3 : -1;
  if (count < 0) return null;
  let code = lead & (count === 1 ? 0x1f : count === 2 ? 0x0f : 0x07);
  let end = at + 3;
  for (let k = 0; k < count; k++) {
    if (text.charCodeAt(end) !== 37) return null;
    const byte = hexAt(text, end + 1, 2);
    if (byte < 0x80 || byte > 0xbf) return null;
    code = (code << 6) | (byte & 0x3f);
    end += 3;
  }
  if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return null;
  const char = String.fromCodePoint(code);
  return { units: char.length === 2 ? [char[0]!, char[1]!] : [char], end };
}
