/**
 * Hashed n-gram features of a normalised text, for the learned scorer (model.ts)
 * and its training script (scripts/train-injection.ts): character 3- to 6-grams
 * (2-grams too where a character is CJK, kana or Hangul, whose words are short),
 * and word unigrams and bigrams. Digits are read as `0`: numbers say nothing about
 * intent, and folding them keeps the model from memorising ids and dates.
 *
 * Each feature is hashed (FNV-1a, then a murmur finaliser) into 2^bits buckets with
 * a sign from the hash's top bit, which keeps collisions from adding up. A
 * feature counts once per text (a binary vector); the model divides by the square
 * root of the count, so a long text does not score higher for being long.
 */
export interface FeatureSpace {
  bits: number;
  charMin: number;
  charMax: number;
  wordBigrams: boolean;
}

export const DEFAULT_FEATURE_SPACE: FeatureSpace = { bits: 18, charMin: 3, charMax: 6, wordBigrams: true };

const FNV_PRIME = 16777619;
const SEED_CHAR = 0x811c9dc5;
const SEED_WORD = 0x01000193 ^ 0x9e3779b9;
const SEED_BIGRAM = 0x85ebca6b;

function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/**
 * Bucket stamps: a feature's bucket seen in the current text has the current
 * stamp. Bytes, not words, so with the weights (also bytes) the arrays a scan
 * touches stay small enough for the CPU's caches; every 255 texts they are cleared.
 */
let stamps = new Uint8Array(0);
let stamp = 0;

const isCjk = (c: number): boolean => c >= 0x2e80 && c <= 0xd7ff && !(c >= 0x3000 && c <= 0x303f);
/** Word characters: ASCII letters and digits, and letters of alphabetic scripts (Hangul included, Han and kana not). */
const isWordUnit = (c: number): boolean =>
  (c >= 97 && c <= 122) ||
  (c >= 48 && c <= 57) ||
  (c >= 0xc0 && c < 0x2000 && c !== 0xd7 && c !== 0xf7) ||
  (c >= 0xac00 && c <= 0xd7af);

/** A digit other than 0 reads as 0. */
const unitAt = (text: string, i: number): number => {
  if (i < 0 || i >= text.length) return 32;
  const c = text.charCodeAt(i);
  return c >= 49 && c <= 57 ? 48 : c;
};

/** The padded units, the hashes of the current text's features and where each starts: reused, grown as needed. */
let padded = new Uint16Array(4096);
let hashes = new Int32Array(8192);
let positions = new Int32Array(8192);

/**
 * The hashes of every feature of `text` (repeats included) into `hashes`, with
 * their start offsets in `positions`; returns how many. Plain loops over typed
 * arrays: this is most of a scan's cost.
 */
function hashFeatures(text: string, space: FeatureSpace): number {
  const n = text.length;
  // At most (charMax - charMin + 2) character n-grams per position, and two per word.
  const most = (n + 2) * (space.charMax - space.charMin + 2) + 2 * n + 16;
  if (hashes.length < most) {
    hashes = new Int32Array(most);
    positions = new Int32Array(most);
  }
  let count = 0;
  // The text's units with digits read as 0, padded with a space at each end (word starts and ends are features).
  if (padded.length < n + 2) padded = new Uint16Array(n + 2 + 1024);
  padded[0] = 32;
  padded[n + 1] = 32;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    padded[i + 1] = c >= 49 && c <= 57 ? 48 : c;
  }
  const { charMin, charMax } = space;
  for (let i = 0; i <= n; i++) {
    let h = SEED_CHAR;
    let cjk = false;
    const last = Math.min(charMax, n + 2 - i);
    for (let k = 0; k < last; k++) {
      const c = padded[i + k]!;
      if (c >= 0x2e80) cjk ||= isCjk(c);
      h = Math.imul(h ^ c, FNV_PRIME);
      if (k + 1 >= charMin || (k === 1 && cjk)) {
        hashes[count] = mix(h ^ (k + 1));
        positions[count++] = i > 0 ? i - 1 : 0;
      }
    }
  }
  // Words and bigrams of adjacent words.
  let previous = 0;
  let hasPrevious = false;
  for (let i = 0; i < n;) {
    if (!isWordUnit(text.charCodeAt(i))) {
      // Punctuation other than a space breaks a bigram: a sentence boundary is no phrase.
      if (text.charCodeAt(i) !== 32) hasPrevious = false;
      i++;
      continue;
    }
    const start = i;
    let h = SEED_WORD;
    while (i < n && isWordUnit(text.charCodeAt(i))) h = Math.imul(h ^ unitAt(text, i++), FNV_PRIME);
    const word = mix(h);
    hashes[count] = word;
    positions[count++] = start;
    if (space.wordBigrams && hasPrevious) {
      hashes[count] = mix(Math.imul(previous ^ SEED_BIGRAM, FNV_PRIME) ^ word);
      positions[count++] = start;
    }
    previous = word;
    hasPrevious = true;
  }
  return count;
}

/** A fresh stamp for the next text's buckets (clearing the array when the byte wraps). */
function nextStamp(size: number): number {
  if (stamps.length !== size) {
    stamps = new Uint8Array(size);
    stamp = 0;
  }
  if (++stamp === 256) {
    stamps.fill(0);
    stamp = 1;
  }
  return stamp;
}

/**
 * The features of a text as arrays (for training): each distinct bucket once, with
 * its sign (from the hash's top bit, so colliding features tend to cancel).
 */
export function featureVector(
  text: string,
  space: FeatureSpace = DEFAULT_FEATURE_SPACE,
): { buckets: Int32Array; signs: Int8Array } {
  const total = hashFeatures(text, space);
  const mask = (1 << space.bits) - 1;
  const current = nextStamp(1 << space.bits);
  const buckets: number[] = [];
  const signs: number[] = [];
  for (let k = 0; k < total; k++) {
    const h = hashes[k]!;
    const bucket = h & mask;
    if (stamps[bucket] === current) continue;
    stamps[bucket] = current;
    buckets.push(bucket);
    signs.push(h < 0 ? -1 : 1);
  }
  return { buckets: Int32Array.from(buckets), signs: Int8Array.from(signs) };
}

/**
 * Σ sign × weight over the text's distinct features (int8 weights, unscaled), their
 * count, and where the largest contribution starts: the same features as
 * featureVector, so training and scoring can never disagree on what a feature is.
 */
export function weightedFeatures(
  text: string,
  space: FeatureSpace,
  weights: Int8Array,
): { sum: number; count: number; bestAt: number } {
  const total = hashFeatures(text, space);
  const mask = (1 << space.bits) - 1;
  const current = nextStamp(1 << space.bits);
  let sum = 0;
  let count = 0;
  let best = 0;
  let bestAt = -1;
  for (let k = 0; k < total; k++) {
    const h = hashes[k]!;
    const bucket = h & mask;
    if (stamps[bucket] === current) continue;
    stamps[bucket] = current;
    count++;
    const contribution = h < 0 ? -weights[bucket]! : weights[bucket]!;
    sum += contribution;
    if (contribution > best) {
      best = contribution;
      bestAt = positions[k]!;
    }
  }
  return { sum, count, bestAt };
}

/**
 * An id's place in [0, 1) (FNV-1a, then a murmur finaliser): the training script holds out the ids below its
 * validation share, and the benchmark reads the same split. It depends on the id
 * only, never on file order.
 */
export function splitShare(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  // FNV's top bits barely move when only the last characters differ (atk-en-0001, atk-en-0002): mix them.
  return (mix(h) >>> 0) / 2 ** 32;
}
