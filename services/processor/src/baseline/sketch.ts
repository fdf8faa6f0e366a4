import { offsetOf, type Arena } from './arena.ts';

/**
 * A small log-bucket quantile sketch (the DDSketch algorithm, Masson et al.,
 * VLDB 2019) for non-negative values such as token counts and latencies.
 *
 * Why not @datadog/sketches-js: its dense store grows in chunks of 128 JavaScript
 * numbers (≥ 1 KB per store, positive and negative stores per sketch), has no
 * decay, and serializes to protobuf; three of them per entity would break the
 * 2 KB-per-entity budget on their own. This one is a block of at most 3 + `maxBins`
 * floats in the baseline arena (≤ 268 bytes at the default, 44 for a narrow
 * distribution), takes weighted updates (so forward time decay costs nothing per
 * event) and converts to plain JSON for snapshots.
 *
 * Guarantee: a value x > 0 lands in bucket i = ceil(log_γ x) with γ = (1+α)/(1−α);
 * the bucket's representative 2γ^i/(γ+1) is within relative error α of every value
 * in it. So quantile(q) is within α (relative) of the exact q-quantile as long as
 * that quantile's bucket was not collapsed. When a sketch would need more than
 * `maxBins` buckets, the lowest ones are folded into the lowest kept bucket: upper
 * quantiles (what anomaly scores look at) stay exact-within-α; only the far low tail
 * loses resolution. Sketches with the same α merge exactly (bucket-wise sums).
 *
 * A sketch is an arena block: [offset, zero, total, bins…], where offset is the
 * bucket index of the first bin, zero the weight of values too small to index
 * (zero tokens, sub-nanosecond latencies) and total the weight of everything.
 * Operations that may need more bins return the sketch's handle, which can move.
 */
const OFFSET = 0;
const ZERO = 1;
const TOTAL = 2;
const BINS = 3;

export interface SketchParams {
  /** Relative accuracy α of quantiles. */
  alpha: number;
  maxBins: number;
}

export const DEFAULT_SKETCH_PARAMS: SketchParams = { alpha: 0.05, maxBins: 64 };

/** Values below this count as zero. */
const MIN_INDEXABLE = 1e-9;
/** Spare buckets kept around the needed range, so a growing sketch moves rarely. */
const SLACK = 2;
/** Bin capacities are powers of two from this up, so released blocks fit the next sketch. */
const MIN_CAPACITY = 4;

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

/** An empty sketch: header only, bins come with the first value. */
export const newSketch = (arena: Arena): number => arena.alloc(BINS);

export const sketchTotal = (arena: Arena, h: number): number => arena.chunkOf(h)[offsetOf(h) + TOTAL] as number;

/** Bucket index of the first bin, and the bins (a view into the arena: read it before the next write). */
export function sketchBins(arena: Arena, h: number): { offset: number; zero: number; bins: Float32Array } {
  const d = arena.chunkOf(h);
  const o = offsetOf(h);
  return {
    offset: d[o + OFFSET] as number,
    zero: d[o + ZERO] as number,
    bins: d.subarray(o + BINS, o + arena.sizeOf(h)),
  };
}

/** The bucket of a value (callers have already sent values below MIN_INDEXABLE to the zero bucket). */
export const bucketOf = (m: SketchMapping, x: number): number => Math.ceil(Math.log(x) / m.lnGamma);

/** The value a bucket stands for: within relative α of every value in it. */
export const bucketValue = (m: SketchMapping, i: number): number => (2 * Math.pow(m.gamma, i)) / (m.gamma + 1);

/** Adds x with `weight`; returns the sketch's handle (moved when it needed more bins). */
export function addToSketch(arena: Arena, h: number, m: SketchMapping, x: number, weight = 1): number {
  const d = arena.chunkOf(h);
  const o = offsetOf(h);
  d[o + TOTAL] = (d[o + TOTAL] as number) + weight;
  if (x < MIN_INDEXABLE) {
    d[o + ZERO] = (d[o + ZERO] as number) + weight;
    return h;
  }
  return addToBucket(arena, h, m, bucketOf(m, x), weight);
}

function addToBucket(arena: Arena, h: number, m: SketchMapping, index: number, weight: number): number {
  let d = arena.chunkOf(h);
  let o = offsetOf(h);
  let i = index - (d[o + OFFSET] as number);
  if (i < 0 || i >= arena.sizeOf(h) - BINS) {
    h = makeRoom(arena, h, m, index);
    d = arena.chunkOf(h);
    o = offsetOf(h);
    // Below the kept range when makeRoom collapsed the low tail: the value folds into the first bin.
    i = Math.max(0, index - (d[o + OFFSET] as number));
  }
  d[o + BINS + i] = (d[o + BINS + i] as number) + weight;
  return h;
}

/** A block covering bucket `index` and every used bucket, collapsing the lowest ones past maxBins. */
function makeRoom(arena: Arena, h: number, m: SketchMapping, index: number): number {
  const used = usedRange(arena, h);
  const lo = Math.min(index, used?.[0] ?? index);
  const hi = Math.max(index, used?.[1] ?? index);
  const width = hi - lo + 1;
  // Too wide: keep the top maxBins buckets; rebuild folds everything below into the lowest kept one.
  if (width > m.maxBins) return rebuild(arena, h, hi - m.maxBins + 1, m.maxBins);
  const capacity = Math.min(m.maxBins, powerOfTwoAtLeast(width + 2 * SLACK));
  return rebuild(arena, h, lo - Math.floor((capacity - width) / 2), capacity);
}

const powerOfTwoAtLeast = (n: number): number => Math.max(MIN_CAPACITY, 2 ** Math.ceil(Math.log2(n)));

/** Moves the sketch to a block of `capacity` bins starting at bucket `offset`; buckets below it fold into its first bin. */
function rebuild(arena: Arena, h: number, offset: number, capacity: number): number {
  const moved = arena.alloc(BINS + capacity);
  const src = arena.chunkOf(h);
  const s = offsetOf(h);
  const dst = arena.chunkOf(moved);
  const t = offsetOf(moved);
  dst[t + OFFSET] = offset;
  dst[t + ZERO] = src[s + ZERO] as number;
  dst[t + TOTAL] = src[s + TOTAL] as number;
  const from = src[s + OFFSET] as number;
  const bins = arena.sizeOf(h) - BINS;
  for (let j = 0; j < bins; j++) {
    const b = src[s + BINS + j] as number;
    if (b === 0) continue;
    const at = t + BINS + Math.max(from + j, offset) - offset;
    dst[at] = (dst[at] as number) + b;
  }
  arena.release(h);
  return moved;
}

/** Lowest and highest non-empty bucket indexes, or null when no bin holds weight. */
function usedRange(arena: Arena, h: number): [number, number] | null {
  const { offset, bins } = sketchBins(arena, h);
  let lo = 0;
  while (lo < bins.length && bins[lo] === 0) lo++;
  if (lo === bins.length) return null;
  let hi = bins.length - 1;
  while (bins[hi] === 0) hi--;
  return [offset + lo, offset + hi];
}

/**
 * The q-quantile: the value of the bucket holding the first unit of weight past
 * q·total (for unit weights, the element at sorted index floor(q·n)).
 */
export function quantile(arena: Arena, h: number, m: SketchMapping, q: number): number {
  const total = sketchTotal(arena, h);
  if (total <= 0) return NaN;
  const { offset, zero, bins } = sketchBins(arena, h);
  const rank = Math.min(q, 1) * total;
  let cumulative = zero;
  if (cumulative > rank) return 0;
  for (let j = 0; j < bins.length; j++) {
    cumulative += bins[j] as number;
    if (cumulative > rank) return bucketValue(m, offset + j);
  }
  // Rounding left the rank at the very top: the highest non-empty bucket.
  for (let j = bins.length - 1; j >= 0; j--) if ((bins[j] as number) > 0) return bucketValue(m, offset + j);
  return 0;
}

/** Quartiles in one pass, for the robust z of every event (reads the arena directly: this is the hot path). */
export function quartiles(arena: Arena, h: number, m: SketchMapping, out: Float64Array): void {
  const d = arena.chunkOf(h);
  const o = offsetOf(h);
  const total = d[o + TOTAL] as number;
  const offset = d[o + OFFSET] as number;
  const end = o + arena.sizeOf(h);
  let cumulative = d[o + ZERO] as number;
  let k = 0;
  let rank = 0.25 * total;
  while (k < 3 && cumulative > rank) {
    out[k++] = 0;
    rank = (k + 1) * 0.25 * total;
  }
  for (let j = o + BINS; j < end && k < 3; j++) {
    cumulative += d[j] as number;
    while (k < 3 && cumulative > rank) {
      out[k++] = bucketValue(m, offset + j - o - BINS);
      rank = (k + 1) * 0.25 * total;
    }
  }
  while (k < 3) out[k++] = k > 0 ? (out[k - 1] as number) : 0;
}

/** Share of the weight at or below x (bucket resolution). */
export function cdf(arena: Arena, h: number, m: SketchMapping, x: number): number {
  const total = sketchTotal(arena, h);
  if (total <= 0) return NaN;
  const { offset, zero, bins } = sketchBins(arena, h);
  if (x < MIN_INDEXABLE) return zero / total;
  const last = Math.min(bucketOf(m, x) - offset, bins.length - 1);
  let cumulative = zero;
  for (let j = 0; j <= last; j++) cumulative += bins[j] as number;
  return cumulative / total;
}

/** Adds `other` into `into` (same mapping): the sketch of both streams together. Returns `into`'s handle. */
export function mergeSketch(arena: Arena, into: number, other: number, m: SketchMapping): number {
  const { offset, zero, bins } = sketchBins(arena, other);
  const d = arena.chunkOf(into);
  const o = offsetOf(into);
  let added = zero;
  for (const b of bins) added += b;
  d[o + ZERO] = (d[o + ZERO] as number) + zero;
  d[o + TOTAL] = (d[o + TOTAL] as number) + added;
  for (let j = 0; j < bins.length; j++) {
    const b = bins[j] as number;
    if (b > 0) into = addToBucket(arena, into, m, offset + j, b);
  }
  return into;
}

/** Multiplies every weight by `factor` (rescaling forward-decay weights). */
export function scaleSketch(arena: Arena, h: number, factor: number): void {
  const d = arena.chunkOf(h);
  const o = offsetOf(h);
  const end = o + arena.sizeOf(h);
  for (let j = o + ZERO; j < end; j++) d[j] = (d[j] as number) * factor;
}

/** A sketch as snapshots hold it. */
export interface SketchJson {
  offset: number;
  zero: number;
  total: number;
  bins: number[];
}

export function sketchToJson(arena: Arena, h: number): SketchJson {
  const { offset, zero, bins } = sketchBins(arena, h);
  return { offset, zero, total: sketchTotal(arena, h), bins: Array.from(bins) };
}

export function sketchFromJson(arena: Arena, json: SketchJson): number {
  const h = arena.alloc(BINS + json.bins.length);
  const d = arena.chunkOf(h);
  const o = offsetOf(h);
  d[o + OFFSET] = json.offset;
  d[o + ZERO] = json.zero;
  d[o + TOTAL] = json.total;
  d.set(json.bins, o + BINS);
  return h;
}
