import { conceptsOf, loadLexicon, type Lexicon } from './lexicon.ts';

/**
 * Hashed n-gram features of a normalised text, for the learned scorer (model.ts)
 * and its training script (scripts/train-injection.ts): character 3- to 6-grams
 * (2-grams too where a character is CJK, kana or Hangul, whose words are short),
 * word unigrams and bigrams, and the intent lexicon's concepts (lexicon.ts): each
 * concept present, ordered pairs of concepts close together, runs of three. Digits
 * are read as `0`: numbers say nothing about intent, and folding them keeps the
 * model from memorising ids and dates.
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
  /**
   * The intent lexicon (lexicon.ts; a file name under rules/injection/, or a path) whose concepts are
   * features: each concept in the text, each ordered pair of concepts close together, each run of three.
   */
  lexicon?: string;
  /** False for no character n-grams (the model's gate reads words and concepts only). Default true. */
  chars?: boolean;
}

export const DEFAULT_FEATURE_SPACE: FeatureSpace = {
  bits: 18,
  charMin: 3,
  charMax: 6,
  wordBigrams: true,
  lexicon: 'lexicon.v1.json',
};

const FNV_PRIME = 16777619;
const SEED_CHAR = 0x811c9dc5;
const SEED_WORD = 0x01000193 ^ 0x9e3779b9;
const SEED_BIGRAM = 0x85ebca6b;
const SEED_CONCEPT = 0x3c6ef372;
const SEED_PAIR = 0xa54ff53a;
const SEED_TRIPLE = 0x510e527f;
/** Two concepts are a pair when the second starts within this many units of the first, and at most this many occurrences on. */
const PAIR_SPAN = 80;
const PAIR_NEXT = 4;

let conceptBits = new Int32Array(1024);
let conceptAt = new Int32Array(1024);

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
  if (padded.length < n + 2) padded = new Uint16Array(n + 2 + 1024);
  // Module bindings read once: the loops below touch only locals.
  const out = hashes;
  const at = positions;
  const pad = padded;
  let count = 0;
  // The text's units with digits read as 0, padded with a space at each end (word starts and ends are features).
  pad[0] = 32;
  pad[n + 1] = 32;
  let wide = false;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x2e80) wide = true;
    pad[i + 1] = c >= 49 && c <= 57 ? 48 : c;
  }
  const { charMin, charMax } = space;
  const chars = space.chars !== false;
  for (let i = 0; chars && i <= n; i++) {
    let h = SEED_CHAR;
    let cjk = false;
    const last = Math.min(charMax, n + 2 - i);
    const position = i > 0 ? i - 1 : 0;
    for (let k = 0; k < last; k++) {
      const c = pad[i + k]!;
      if (wide && c >= 0x2e80) cjk ||= isCjk(c);
      h = Math.imul(h ^ c, FNV_PRIME);
      if (k + 1 >= charMin || (k === 1 && cjk)) {
        out[count] = mix(h ^ (k + 1));
        at[count++] = position;
      }
    }
  }
  // Words and bigrams of adjacent words.
  const bigrams = space.wordBigrams;
  let previous = 0;
  let hasPrevious = false;
  for (let i = 0; i < n;) {
    const c = text.charCodeAt(i);
    if (!isWordUnit(c)) {
      // Punctuation other than a space breaks a bigram: a sentence boundary is no phrase.
      if (c !== 32) hasPrevious = false;
      i++;
      continue;
    }
    const start = i;
    let h = SEED_WORD;
    for (; i < n && isWordUnit(text.charCodeAt(i)); i++) h = Math.imul(h ^ pad[i + 1]!, FNV_PRIME);
    const word = mix(h);
    out[count] = word;
    at[count++] = start;
    if (bigrams && hasPrevious) {
      out[count] = mix(Math.imul(previous ^ SEED_BIGRAM, FNV_PRIME) ^ word);
      at[count++] = start;
    }
    previous = word;
    hasPrevious = true;
  }
  if (space.lexicon !== undefined) count = conceptFeatures(text, lexiconOf(space.lexicon), count);
  return count;
}

let lastLexicon: { name: string; lexicon: Lexicon } | undefined;

/** The lexicon a space names, remembered: loadLexicon resolves a path, which costs more than a scan's step. */
function lexiconOf(name: string): Lexicon {
  if (lastLexicon?.name !== name) lastLexicon = { name, lexicon: loadLexicon(name) };
  return lastLexicon.lexicon;
}

/** Concept features of `text` appended to `hashes` from `count`; returns the new count. */
function conceptFeatures(text: string, lexicon: Lexicon, count: number): number {
  if (conceptBits.length < text.length + 1) {
    conceptBits = new Int32Array(text.length + 1024);
    conceptAt = new Int32Array(text.length + 1024);
  }
  const found = conceptsOf(lexicon, text, conceptBits, conceptAt);
  // Unigrams (a bit each), pairs of every bit of one occurrence with every bit of a later one, triples of the
  // lowest bits of three occurrences in a row: at most a few per occurrence, room for which was left above.
  const needed = count + found * (32 + 16 * PAIR_NEXT + 1) + 16;
  if (hashes.length < needed) {
    const grownHashes = new Int32Array(needed);
    const grownPositions = new Int32Array(needed);
    grownHashes.set(hashes.subarray(0, count));
    grownPositions.set(positions.subarray(0, count));
    hashes = grownHashes;
    positions = grownPositions;
  }
  for (let j = 0; j < found; j++) {
    const bits = conceptBits[j]!;
    const at = conceptAt[j]!;
    for (let a = bits; a !== 0; a &= a - 1) {
      const ca = 31 - Math.clz32(a & -a);
      hashes[count] = mix(Math.imul(SEED_CONCEPT ^ ca, FNV_PRIME));
      positions[count++] = at;
      for (let k = j + 1; k < found && k <= j + PAIR_NEXT && conceptAt[k]! - at <= PAIR_SPAN; k++) {
        for (let b = conceptBits[k]!; b !== 0; b &= b - 1) {
          const cb = 31 - Math.clz32(b & -b);
          if (cb === ca) continue;
          hashes[count] = mix(Math.imul(Math.imul(SEED_PAIR ^ ca, FNV_PRIME) ^ cb, FNV_PRIME));
          positions[count++] = at;
        }
      }
    }
    if (j + 2 < found && conceptAt[j + 2]! - at <= PAIR_SPAN * 2) {
      const lowest = (x: number): number => 31 - Math.clz32(x & -x);
      const h = Math.imul(Math.imul(SEED_TRIPLE ^ lowest(bits), FNV_PRIME) ^ lowest(conceptBits[j + 1]!), FNV_PRIME);
      hashes[count] = mix(Math.imul(h ^ lowest(conceptBits[j + 2]!), FNV_PRIME));
      positions[count++] = at;
    }
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
 * Weights packed with a stamp per bucket (weight in the low byte, stamp in the high one), so scoring a
 * feature reads one place in memory instead of two; one per weight array, made on first use.
 */
const packedWeights = new WeakMap<Int8Array, { packed: Uint16Array; stamp: number }>();

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
  let entry = packedWeights.get(weights);
  if (entry === undefined || entry.packed.length !== weights.length) {
    const packed = new Uint16Array(weights.length);
    for (let i = 0; i < weights.length; i++) packed[i] = weights[i]! & 0xff;
    entry = { packed, stamp: 0 };
    packedWeights.set(weights, entry);
  }
  const packed = entry.packed;
  if (++entry.stamp === 256) {
    for (let i = 0; i < packed.length; i++) packed[i]! &= 0xff;
    entry.stamp = 1;
  }
  const current = entry.stamp << 8;
  const features = hashes;
  let sum = 0;
  let count = 0;
  let best = 0;
  let bestK = -1;
  for (let k = 0; k < total; k++) {
    const h = features[k]!;
    const bucket = h & mask;
    const cell = packed[bucket]!;
    if ((cell & 0xff00) === current) continue;
    packed[bucket] = current | (cell & 0xff);
    count++;
    // The low byte back to a signed weight.
    const weight = ((cell & 0xff) << 24) >> 24;
    const contribution = h < 0 ? -weight : weight;
    sum += contribution;
    if (contribution > best) {
      best = contribution;
      bestK = k;
    }
  }
  const bestAt = bestK < 0 ? -1 : positions[bestK]!;
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
