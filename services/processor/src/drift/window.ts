import { EVENT_LIMITS, type AiEvent } from '@aispm/core';
import {
  MIX_FIELDS,
  NUMERIC_FEATURES,
  isLearning,
  type AgentBaseline,
  type BaselineContext,
} from '../baseline/agent.ts';
import { resetMixWindow, minuteOf, FIRST_MINUTE, STRIDE as SLOT, W, WIN } from '../baseline/categorical.ts';
import { bucketOf, bucketValue, type Sketch, type SketchMapping } from '../baseline/sketch.ts';
import { PSI_EPSILON, jensenShannon, psi } from './divergence.ts';

/**
 * Drift per entity per tumbling window of event time: each distribution of the
 * window (token and latency bins, categorical mixes) against the baseline as it
 * stood before the window. Numeric features are binned at the baseline's deciles,
 * taken when the window opens, so the baseline side is exact and the window side
 * costs one bucket lookup per value. Categorical mixes carry their window weight
 * per value, so the baseline side is the mix minus the window.
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
  agent: string | null;
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
/** Per numeric feature: bound count, up to BINS−1 bucket bounds, BINS baseline shares, BINS window counts. */
const STRIDE = 1 + (BINS - 1) + BINS + BINS;
const BOUNDS = 1;
const EXPECTED = BOUNDS + BINS - 1;
const COUNTS = EXPECTED + BINS;
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
export function countInWindow(state: AgentBaseline, ctx: BaselineContext, event: AiEvent): void {
  const window = state.window;
  if (event.time / 1000 < window.startMs) return;
  window.events++;
  const bins = window.numeric;
  if (!bins) return;
  countValue(bins, 0, ctx, event.input_tokens, EVENT_LIMITS.maxTokens);
  countValue(bins, 1, ctx, event.output_tokens, EVENT_LIMITS.maxTokens);
  if (event.kind === 'llm_call') countValue(bins, 2, ctx, event.latency_ms, EVENT_LIMITS.maxLatencyMs);
}

function countValue(bins: Float32Array, f: number, ctx: BaselineContext, x: number | null, max: number): void {
  if (x === null || !(x >= 0 && x <= max)) return;
  const base = f * STRIDE;
  const n = bins[base] as number;
  const bucket = x < 1e-9 ? ZERO_BUCKET : bucketOf(ctx.mapping, x);
  let k = 0;
  while (k < n && bucket > (bins[base + BOUNDS + k] as number)) k++;
  bins[base + COUNTS + k] = (bins[base + COUNTS + k] as number) + 1;
}

export function openWindow(state: AgentBaseline, ctx: BaselineContext, startMs: number): void {
  state.window.startMs = startMs;
  state.window.events = 0;
  for (const field of MIX_FIELDS) resetMixWindow(state.mixes[field]);
  if (isLearning(state, startMs, ctx.options)) {
    state.window.numeric = null;
    return;
  }
  const bins = state.window.numeric ?? new Float32Array(NUMERIC_FEATURES.length * STRIDE);
  bins.fill(0);
  NUMERIC_FEATURES.forEach((feature, f) => decileBins(state.numeric[feature], ctx.mapping, bins, f * STRIDE));
  state.window.numeric = bins;
}

/** Bucket bounds at the sketch's deciles (ties merged) and the baseline's share of each bin. */
function decileBins(sketch: Sketch, m: SketchMapping, out: Float32Array, base: number): void {
  if (sketch.total <= 0) return;
  let n = 0;
  let cumulative = sketch.zero;
  let previousShare = 0;
  const addBound = (bucket: number, share: number): void => {
    out[base + BOUNDS + n] = bucket;
    out[base + EXPECTED + n] = share - previousShare;
    previousShare = share;
    n++;
  };
  let next = 1;
  if (cumulative / sketch.total >= next / BINS) {
    while (next < BINS && cumulative / sketch.total >= next / BINS) next++;
    addBound(ZERO_BUCKET, cumulative / sketch.total);
  }
  for (let j = 0; j < sketch.bins.length && next < BINS; j++) {
    cumulative += sketch.bins[j] as number;
    const share = cumulative / sketch.total;
    if (share < next / BINS) continue;
    while (next < BINS && share >= next / BINS) next++;
    addBound(sketch.offset + j, share);
  }
  out[base] = n;
  out[base + EXPECTED + n] = 1 - previousShare;
}

export function closeWindow(state: AgentBaseline, ctx: BaselineContext, options: DriftOptions): WindowDrift | null {
  const window = state.window;
  if (window.events < options.minWindowEvents || !window.numeric) return null;
  const features: FeatureDrift[] = [];
  NUMERIC_FEATURES.forEach((feature, f) => {
    const judged = numericDrift(feature, window.numeric as Float32Array, f * STRIDE, ctx.mapping, options);
    if (judged) features.push(judged);
  });
  for (const field of MIX_FIELDS) {
    const judged = categoricalDrift(state, ctx, field, options);
    if (judged) features.push(judged);
  }
  if (features.length === 0) return null;
  features.sort((a, b) => b.psi - a.psi);
  const worst = features[0] as FeatureDrift;
  return {
    tenant: state.tenant,
    app: state.app,
    agent: state.agent,
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
  bins: Float32Array,
  base: number,
  m: SketchMapping,
  options: DriftOptions,
): FeatureDrift | null {
  const n = bins[base] as number;
  const expected = bins.subarray(base + EXPECTED, base + EXPECTED + n + 1);
  const actual = bins.subarray(base + COUNTS, base + COUNTS + n + 1);
  let count = 0;
  for (const c of actual) count += c;
  if (n === 0 || count < options.minWindowEvents / 2) return null;
  const value = psi(expected, actual);
  const noise = n / count;
  const k = mostMoved(expected, 1, actual, count);
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
    detail: `${feature.replace('_', ' ')} ${range}: ${pct((actual[k] as number) / count)} of the window vs ${pct(expected[k] as number)} of the baseline`,
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
  field: (typeof MIX_FIELDS)[number],
  options: DriftOptions,
): FeatureDrift | null {
  const mix = state.mixes[field];
  const slots = mix.names.length;
  const expected = new Float64Array(slots + 1);
  const actual = new Float64Array(slots + 1);
  for (let s = 0; s < slots; s++) {
    const w = mix.stats[s * SLOT + W] as number;
    const win = mix.stats[s * SLOT + WIN] as number;
    expected[s] = Math.max(0, w - win);
    actual[s] = win;
  }
  expected[slots] = Math.max(0, mix.overflow - mix.overflowWindow);
  actual[slots] = mix.overflowWindow;
  const before = mix.total - mix.window;
  if (before <= 0 || mix.window <= 0) return null;
  const value = psi(expected, actual);
  let bins = 0;
  for (let s = 0; s <= slots; s++) if ((expected[s] as number) > 0 || (actual[s] as number) > 0) bins++;
  // Window weight in events: forward-decay weights are near constant within one window.
  const count = mix.window / Math.exp(ctx.lambda * (state.window.startMs - state.landmarkMs));
  const noise = (bins - 1) / Math.max(count, 1);
  const k = mostMoved(expected, before, actual, mix.window);
  const name = k === slots ? 'untracked values' : `\`${mix.names[k]}\``;
  const isNew = k < slots && (mix.stats[k * SLOT + FIRST_MINUTE] as number) >= minuteOf(state.window.startMs);
  return {
    feature: field,
    psi: value,
    js: jensenShannon(expected, actual),
    noise,
    level: levelOf(value - noise, options),
    detail: `${field} ${name}${isNew ? ' (new)' : ''}: ${pct((actual[k] as number) / mix.window)} of the window vs ${pct((expected[k] as number) / before)} of the baseline`,
  };
}

const pct = (share: number): string => `${share >= 0.1 ? Math.round(share * 100) : Math.round(share * 1000) / 10}%`;
const fmt = (x: number): string => (x >= 100 ? Math.round(x).toLocaleString('en-US') : String(Math.round(x * 10) / 10));
