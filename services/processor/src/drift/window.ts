import { EVENT_LIMITS } from '@aispm/core';
import {
  MIX_OF,
  NO_BLOCK,
  NUMERIC_FEATURES,
  capMemory,
  fieldsOf,
  isLearning,
  latencyKind,
  weightAt,
  type AgentBaseline,
  type BaselineContext,
  type ScoredField,
} from '../baseline/agent.ts';
import { offsetOf, type Arena } from '../baseline/arena.ts';
import type { EntityKind, ObservedEvent } from '../baseline/view.ts';
import {
  mixOverflow,
  mixOverflowWindow,
  mixSlots,
  mixTotal,
  mixWindow,
  resetMixWindows,
  slotWeight,
  slotWindow,
} from '../baseline/categorical.ts';
import { bucketOf, bucketValue, sketchBins, sketchTotal, type SketchMapping } from '../baseline/sketch.ts';
import { PSI_EPSILON, jensenShannon, psi } from './divergence.ts';

/**
 * Drift per entity per tumbling window of event time: each distribution of the
 * window (token and latency bins, categorical mixes) against the baseline as it
 * stood before the window. Numeric features are binned at the baseline's deciles,
 * taken when the window opens, so counting a value costs one bucket lookup. The
 * baseline side of both kinds is the baseline at close minus the window: sketch
 * mass per bin less the window's counts at the window's decay weight (constant
 * within 0.25% over 15 minutes at a 72-hour half-life), and per categorical value
 * its weight less its window weight.
 */
export interface DriftOptions {
  windowMinutes: number;
  /** Windows with fewer events are not judged: PSI over n events has a null bias of about (bins − 1) / n. */
  minWindowEvents: number;
  psiWatch: number;
  psiAct: number;
}

export const DEFAULT_DRIFT_OPTIONS: DriftOptions = {
  windowMinutes: 15,
  minWindowEvents: 200,
  psiWatch: 0.1,
  psiAct: 0.25,
};

export type DriftLevel = 'ok' | 'watch' | 'act';

export interface FeatureDrift {
  feature: string;
  psi: number;
  js: number;
  /**
   * The PSI an unchanged distribution shows from sampling alone at this window's
   * size, (bins − 1) / n; the level is judged on psi − noise, so small windows do
   * not cry wolf at the customary thresholds (which assume large samples).
   */
  noise: number;
  level: DriftLevel;
  /** What moved, in words. */
  detail: string;
}

export interface WindowDrift {
  tenant: string;
  app: string;
  entity: EntityKind;
  windowStartMs: number;
  windowEndMs: number;
  events: number;
  /** The worst feature's level and divergences. */
  level: DriftLevel;
  psi: number;
  js: number;
  /** Every judged distribution, most moved first. */
  features: FeatureDrift[];
}

const BINS = 10;
/** Per numeric feature: bound count, up to BINS−1 bucket bounds (bin k holds buckets ≤ bound k), BINS window counts. */
const STRIDE = 1 + (BINS - 1) + BINS;
const BOUNDS = 1;
const COUNTS = BOUNDS + BINS - 1;
export const WINDOW_FLOATS = NUMERIC_FEATURES.length * STRIDE;
/** Bucket index standing for the zero bucket: finite, so snapshots (JSON) keep it. */
const ZERO_BUCKET = -1e9;

/**
 * Moves the entity's window to the one holding `timeMs`, closing the window in
 * progress first. Returns that window's report when it was judged, else null.
 * Events older than the open window do not move it (they are late).
 */
export function advanceWindow(
  state: AgentBaseline,
  ctx: BaselineContext,
  options: DriftOptions,
  timeMs: number,
): WindowDrift | null {
  const length = options.windowMinutes * 60_000;
  if (timeMs < state.window.startMs + length) return null;
  const report = closeWindow(state, ctx, options);
  openWindow(state, ctx, Math.floor(timeMs / length) * length);
  return report;
}

/** Counts an event that fell in the open window (values the baseline rejected are left out). */
export function countInWindow(state: AgentBaseline, ctx: BaselineContext, event: ObservedEvent): void {
  const window = state.window;
  if (event.time / 1000 < window.startMs) return;
  window.events++;
  if (window.bins === NO_BLOCK) return;
  const bins = ctx.arena.chunkOf(window.bins);
  const o = offsetOf(window.bins);
  countValue(bins, o, ctx, event.input_tokens, EVENT_LIMITS.maxTokens);
  countValue(bins, o + STRIDE, ctx, event.output_tokens, EVENT_LIMITS.maxTokens);
  if (event.kind === latencyKind(state.entity))
    countValue(bins, o + 2 * STRIDE, ctx, event.latency_ms, EVENT_LIMITS.maxLatencyMs);
}

function countValue(bins: Float32Array, base: number, ctx: BaselineContext, x: number | null, max: number): void {
  if (x === null || !(x >= 0 && x <= max)) return;
  const n = bins[base] as number;
  const bucket = x < 1e-9 ? ZERO_BUCKET : bucketOf(ctx.mapping, x);
  let k = 0;
  while (k < n && bucket > (bins[base + BOUNDS + k] as number)) k++;
  bins[base + COUNTS + k] = (bins[base + COUNTS + k] as number) + 1;
}

export function openWindow(state: AgentBaseline, ctx: BaselineContext, startMs: number): void {
  const { arena } = ctx;
  const window = state.window;
  window.startMs = startMs;
  window.events = 0;
  resetMixWindows(arena, state);
  capMemory(state, ctx, startMs);
  if (isLearning(state, startMs, ctx.options)) {
    if (window.bins !== NO_BLOCK) arena.release(window.bins);
    window.bins = NO_BLOCK;
    return;
  }
  if (window.bins === NO_BLOCK) window.bins = arena.alloc(WINDOW_FLOATS);
  const bins = arena.chunkOf(window.bins);
  const o = offsetOf(window.bins);
  bins.fill(0, o, o + WINDOW_FLOATS);
  NUMERIC_FEATURES.forEach((feature, f) => decileBins(arena, state.numeric[feature], bins, o + f * STRIDE));
}

/** Bucket bounds at the sketch's deciles (ties merged). */
function decileBins(arena: Arena, h: number, out: Float32Array, base: number): void {
  const total = sketchTotal(arena, h);
  if (total <= 0) return;
  const sketch = sketchBins(arena, h);
  let n = 0;
  let cumulative = sketch.zero;
  let next = 1;
  if (cumulative / total >= next / BINS) {
    while (next < BINS && cumulative / total >= next / BINS) next++;
    out[base + BOUNDS + n++] = ZERO_BUCKET;
  }
  for (let j = 0; j < sketch.bins.length && next < BINS; j++) {
    cumulative += sketch.bins[j] as number;
    const share = cumulative / total;
    if (share < next / BINS) continue;
    while (next < BINS && share >= next / BINS) next++;
    out[base + BOUNDS + n++] = sketch.offset + j;
  }
  out[base] = n;
}

/**
 * The baseline's weight in each bin before the window: the sketch's mass per bin
 * now, less the window's counts at the weight its events were added with.
 */
function baselineBins(arena: Arena, h: number, bins: Float32Array, base: number, windowWeight: number): Float64Array {
  const n = bins[base] as number;
  const out = new Float64Array(n + 1);
  const sketch = sketchBins(arena, h);
  let k = 0;
  out[0] = sketch.zero;
  for (let j = 0; j < sketch.bins.length; j++) {
    const bucket = sketch.offset + j;
    while (k < n && bucket > (bins[base + BOUNDS + k] as number)) k++;
    out[k] = (out[k] as number) + (sketch.bins[j] as number);
  }
  for (let i = 0; i <= n; i++)
    out[i] = Math.max(0, (out[i] as number) - (bins[base + COUNTS + i] as number) * windowWeight);
  return out;
}

export function closeWindow(state: AgentBaseline, ctx: BaselineContext, options: DriftOptions): WindowDrift | null {
  const window = state.window;
  if (window.events < options.minWindowEvents || window.bins === NO_BLOCK) return null;
  const features: FeatureDrift[] = [];
  const bins = ctx.arena.chunkOf(window.bins);
  const o = offsetOf(window.bins);
  const midMs = window.startMs + (options.windowMinutes * 60_000) / 2;
  const windowWeight = weightAt(state, ctx, midMs);
  NUMERIC_FEATURES.forEach((feature, f) => {
    const expected = baselineBins(ctx.arena, state.numeric[feature], bins, o + f * STRIDE, windowWeight);
    const judged = numericDrift(feature, expected, bins, o + f * STRIDE, ctx.mapping, options);
    if (judged) features.push(judged);
  });
  for (const field of fieldsOf(state.entity)) {
    const judged = categoricalDrift(state, ctx, field, options);
    if (judged) features.push(judged);
  }
  if (features.length === 0) return null;
  features.sort((a, b) => b.psi - a.psi);
  const worst = features[0] as FeatureDrift;
  return {
    tenant: state.tenant,
    app: state.app,
    entity: state.entity,
    windowStartMs: window.startMs,
    windowEndMs: window.startMs + options.windowMinutes * 60_000,
    events: window.events,
    level: worst.level,
    psi: worst.psi,
    js: Math.max(...features.map((f) => f.js)),
    features,
  };
}

const levelOf = (value: number, options: DriftOptions): DriftLevel =>
  value >= options.psiAct ? 'act' : value >= options.psiWatch ? 'watch' : 'ok';

function numericDrift(
  feature: string,
  expected: Float64Array,
  bins: Float32Array,
  base: number,
  m: SketchMapping,
  options: DriftOptions,
): FeatureDrift | null {
  const n = bins[base] as number;
  const actual = bins.subarray(base + COUNTS, base + COUNTS + n + 1);
  let count = 0;
  for (const c of actual) count += c;
  let before = 0;
  for (const e of expected) before += e;
  if (n === 0 || count < options.minWindowEvents / 2 || before <= 0) return null;
  const value = psi(expected, actual);
  const noise = n / count;
  const k = mostMoved(expected, before, actual, count);
  const lo = k === 0 ? 0 : bucketValue(m, bins[base + BOUNDS + k - 1] as number);
  const range =
    k === n
      ? `above ${fmt(lo)}`
      : k === 0
        ? `up to ${fmt(bucketValue(m, bins[base + BOUNDS] as number))}`
        : `${fmt(lo)}–${fmt(bucketValue(m, bins[base + BOUNDS + k] as number))}`;
  return {
    feature,
    psi: value,
    js: jensenShannon(expected, actual),
    noise,
    level: levelOf(value - noise, options),
    detail: `${feature.replace('_', ' ')} ${range}: ${pct((actual[k] as number) / count)} of the window vs ${pct((expected[k] as number) / before)} of the baseline`,
  };
}

/** The bin contributing most to the PSI. */
function mostMoved(
  expected: ArrayLike<number>,
  expectedTotal: number,
  actual: ArrayLike<number>,
  actualTotal: number,
): number {
  let k = 0;
  let most = -1;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max((expected[i] as number) / expectedTotal, PSI_EPSILON);
    const a = Math.max((actual[i] as number) / actualTotal, PSI_EPSILON);
    const part = (a - e) * Math.log(a / e);
    if (part > most) {
      most = part;
      k = i;
    }
  }
  return k;
}

function categoricalDrift(
  state: AgentBaseline,
  ctx: BaselineContext,
  field: ScoredField,
  options: DriftOptions,
): FeatureDrift | null {
  const { arena } = ctx;
  const mix = MIX_OF[field];
  const { first, end } = mixSlots(arena, state, mix);
  const slots = end - first;
  const expected = new Float64Array(slots + 1);
  const actual = new Float64Array(slots + 1);
  for (let s = 0; s < slots; s++) {
    const win = slotWindow(arena, state, first + s);
    expected[s] = Math.max(0, slotWeight(arena, state, first + s) - win);
    actual[s] = win;
  }
  const overflowWindow = mixOverflowWindow(arena, state, mix);
  expected[slots] = Math.max(0, mixOverflow(arena, state, mix) - overflowWindow);
  actual[slots] = overflowWindow;
  const window = mixWindow(arena, state, mix);
  const before = mixTotal(arena, state, mix) - window;
  if (before <= 0 || window <= 0) return null;
  const value = psi(expected, actual);
  let bins = 0;
  for (let s = 0; s <= slots; s++) if ((expected[s] as number) > 0 || (actual[s] as number) > 0) bins++;
  // Window weight in events: forward-decay weights are near constant within one window.
  const count = window / weightAt(state, ctx, state.window.startMs);
  const noise = (bins - 1) / Math.max(count, 1);
  const k = mostMoved(expected, before, actual, window);
  const name = k === slots ? 'untracked values' : `\`${state.names[first + k]}\``;
  // All of the value's weight came in this window: it was first seen (or came back from eviction) here.
  const isNew = k < slots && expected[k] === 0;
  return {
    feature: field,
    psi: value,
    js: jensenShannon(expected, actual),
    noise,
    level: levelOf(value - noise, options),
    detail: `${field} ${name}${isNew ? ' (new)' : ''}: ${pct((actual[k] as number) / window)} of the window vs ${pct((expected[k] as number) / before)} of the baseline`,
  };
}

const pct = (share: number): string => `${share >= 0.1 ? Math.round(share * 100) : Math.round(share * 1000) / 10}%`;
const fmt = (x: number): string => (x >= 100 ? Math.round(x).toLocaleString('en-US') : String(Math.round(x * 10) / 10));
