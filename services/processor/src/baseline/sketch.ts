/**
 * A small log-bucket quantile sketch (the DDSketch algorithm, Masson et al.,
 * VLDB 2019) for non-negative values such as token counts and latencies.
 *
 * Why not @datadog/sketches-js: its dense store grows in chunks of 128 JavaScript
 * numbers (≥ 1 KB per store, positive and negative stores per sketch), has no
 * decay, and serializes to protobuf; three of them per entity would break the
 * 2 KB-per-entity budget on their own. This one keeps one Float32Array of at most
 * `maxBins` buckets (≤ 256 bytes at the default), takes weighted updates (so
 * forward time decay costs nothing per event) and is plain data (snapshots are JSON).
 *
 * Guarantee: a value x > 0 lands in bucket i = ceil(log_γ x) with γ = (1+α)/(1−α);
 * the bucket's representative 2γ^i/(γ+1) is within relative error α of every value
 * in it. So quantile(q) is within α (relative) of the exact q-quantile as long as
 * that quantile's bucket was not collapsed. When a sketch would need more than
 * `maxBins` buckets, the lowest ones are folded into the lowest kept bucket: upper
 * quantiles (what anomaly scores look at) stay exact-within-α; only the far low tail
 * loses resolution. Sketches with the same α merge exactly (bucket-wise sums).
 */
export interface Sketch {
  /** Bucket index of bins[0]. */
  offset: number;
  bins: Float32Array;
  /** Weight of values too small to index (zero tokens, sub-nanosecond latencies). */
  zero: number;
  /** Total weight, zero bucket included. */
  total: number;
}

export interface SketchParams {
  /** Relative accuracy α of quantiles. */
  alpha: number;
  maxBins: number;
}

export const DEFAULT_SKETCH_PARAMS: SketchParams = { alpha: 0.05, maxBins: 64 };

/** Values below this count as zero. */
const MIN_INDEXABLE = 1e-9;
/** Spare buckets allocated around the needed range, so a growing sketch reallocates rarely. */
const SLACK = 4;

export interface SketchMapping {
  readonly gamma: number;
  readonly lnGamma: number;
  readonly maxBins: number;
}

export function sketchMapping(params: SketchParams = DEFAULT_SKETCH_PARAMS): SketchMapping {
  if (!(params.alpha > 0 && params.alpha < 1))
    throw new RangeError(`sketch alpha must be in (0, 1), got ${params.alpha}`);
  const gamma = (1 + params.alpha) / (1 - params.alpha);
  return { gamma, lnGamma: Math.log(gamma), maxBins: Math.max(2, Math.floor(params.maxBins)) };
}

/** Shared by every empty sketch (a typed array costs ~200 bytes even when empty); never written, only replaced. */
const NO_BINS = new Float32Array(0);

export const emptySketch = (): Sketch => ({ offset: 0, bins: NO_BINS, zero: 0, total: 0 });

/** The bucket of a value (callers have already sent values below MIN_INDEXABLE to the zero bucket). */
export const bucketOf = (m: SketchMapping, x: number): number => Math.ceil(Math.log(x) / m.lnGamma);

/** The value a bucket stands for: within relative α of every value in it. */
export const bucketValue = (m: SketchMapping, i: number): number => (2 * Math.pow(m.gamma, i)) / (m.gamma + 1);

export function addToSketch(s: Sketch, m: SketchMapping, x: number, weight = 1): void {
  s.total += weight;
  if (x < MIN_INDEXABLE) {
    s.zero += weight;
    return;
  }
  addToBucket(s, m, bucketOf(m, x), weight);
}

function addToBucket(s: Sketch, m: SketchMapping, index: number, weight: number): void {
  let i = index - s.offset;
  if (s.bins.length === 0 || i < 0 || i >= s.bins.length) {
    i = ensureRange(s, m, index);
  }
  s.bins[i] = (s.bins[i] as number) + weight;
}

/** Makes room for bucket `index`, collapsing the lowest buckets past maxBins; returns its position. */
function ensureRange(s: Sketch, m: SketchMapping, index: number): number {
  if (s.bins.length === 0) {
    const size = Math.min(m.maxBins, 1 + 2 * SLACK);
    s.offset = index - Math.floor(size / 2);
    s.bins = new Float32Array(size);
    return index - s.offset;
  }
  const [lo, hi] = usedRange(s);
  const newLo = Math.min(lo, index);
  const newHi = Math.max(hi, index);
  const width = newHi - newLo + 1;
  if (width <= m.maxBins) {
    const size = Math.min(m.maxBins, width + 2 * SLACK);
    return reallocate(s, newLo - Math.floor((size - width) / 2), size, index);
  }
  // Too wide: keep the top maxBins buckets, fold everything below into the lowest kept one.
  const keepLo = newHi - m.maxBins + 1;
  const bins = new Float32Array(m.maxBins);
  let folded = 0;
  for (let j = 0; j < s.bins.length; j++) {
    const b = s.bins[j] as number;
    if (b === 0) continue;
    const at = s.offset + j;
    if (at < keepLo) folded += b;
    else bins[at - keepLo] = b;
  }
  bins[0] = (bins[0] as number) + folded;
  s.bins = bins;
  s.offset = keepLo;
  return Math.max(index, keepLo) - keepLo;
}

function reallocate(s: Sketch, offset: number, size: number, index: number): number {
  const bins = new Float32Array(size);
  for (let j = 0; j < s.bins.length; j++) {
    const b = s.bins[j] as number;
    if (b !== 0) bins[s.offset + j - offset] = b;
  }
  s.bins = bins;
  s.offset = offset;
  return index - offset;
}

/** Lowest and highest non-empty bucket indexes (an empty sketch reports its array bounds). */
function usedRange(s: Sketch): [number, number] {
  let lo = 0;
  while (lo < s.bins.length - 1 && s.bins[lo] === 0) lo++;
  let hi = s.bins.length - 1;
  while (hi > lo && s.bins[hi] === 0) hi--;
  return [s.offset + lo, s.offset + hi];
}

/**
 * The q-quantile: the value of the bucket holding the first unit of weight past
 * q·total (for unit weights, the element at sorted index floor(q·n)).
 */
export function quantile(s: Sketch, m: SketchMapping, q: number): number {
  if (s.total <= 0) return NaN;
  const rank = Math.min(q, 1) * s.total;
  let cumulative = s.zero;
  if (cumulative > rank) return 0;
  for (let j = 0; j < s.bins.length; j++) {
    cumulative += s.bins[j] as number;
    if (cumulative > rank) return bucketValue(m, s.offset + j);
  }
  // Rounding left the rank at the very top: the highest non-empty bucket.
  for (let j = s.bins.length - 1; j >= 0; j--) if ((s.bins[j] as number) > 0) return bucketValue(m, s.offset + j);
  return 0;
}

/** Quartiles in one pass, for the robust z of every event. */
export function quartiles(s: Sketch, m: SketchMapping, out: Float64Array): void {
  const r1 = 0.25 * s.total;
  const r2 = 0.5 * s.total;
  const r3 = 0.75 * s.total;
  let cumulative = s.zero;
  let k = 0;
  const ranks = [r1, r2, r3];
  while (k < 3 && cumulative > (ranks[k] as number)) out[k++] = 0;
  for (let j = 0; j < s.bins.length && k < 3; j++) {
    cumulative += s.bins[j] as number;
    while (k < 3 && cumulative > (ranks[k] as number)) out[k++] = bucketValue(m, s.offset + j);
  }
  while (k < 3) out[k++] = k > 0 ? (out[k - 1] as number) : 0;
}

/** Share of the weight at or below x (bucket resolution). */
export function cdf(s: Sketch, m: SketchMapping, x: number): number {
  if (s.total <= 0) return NaN;
  if (x < MIN_INDEXABLE) return s.zero / s.total;
  const last = Math.min(bucketOf(m, x) - s.offset, s.bins.length - 1);
  let cumulative = s.zero;
  for (let j = 0; j <= last; j++) cumulative += s.bins[j] as number;
  return cumulative / s.total;
}

/** Adds `other` into `into` (same mapping): the sketch of both streams together. */
export function mergeSketch(into: Sketch, other: Sketch, m: SketchMapping): void {
  into.zero += other.zero;
  into.total += other.zero;
  for (let j = 0; j < other.bins.length; j++) {
    const b = other.bins[j] as number;
    if (b > 0) {
      into.total += b;
      addToBucket(into, m, other.offset + j, b);
    }
  }
}

/** Multiplies every weight by `factor` (rescaling forward-decay weights). */
export function scaleSketch(s: Sketch, factor: number): void {
  s.zero *= factor;
  s.total *= factor;
  for (let j = 0; j < s.bins.length; j++) s.bins[j] = (s.bins[j] as number) * factor;
}
