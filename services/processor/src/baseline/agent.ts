import type { AiEvent } from '@aispm/core';
import { emptyEwm, updateEwm, zAbove, type Ewm } from './ewm.ts';

/**
 * The first per-agent baseline: a decayed event rate (per minute of event time)
 * and the distributions of input and output tokens on a log scale. Pure: state in,
 * state and measurements out.
 */
export interface AgentBaseline {
  events: number;
  firstMs: number;
  /** Minute (event time) being counted, and its count so far. */
  minute: number;
  minuteCount: number;
  /** Per-minute event counts of past minutes, idle minutes included. */
  rate: Ewm;
  inputTokens: Ewm;
  outputTokens: Ewm;
}

export interface BaselineOptions {
  /** Weight of the newest observation once history is long; 0.01 ≈ the last 100 observations. */
  alpha: number;
  /** Events before the baseline is trusted; scores made earlier are marked `learning`. */
  minEvents: number;
  /** Minutes of event time before the baseline is trusted. */
  minMinutes: number;
}

export const DEFAULT_BASELINE_OPTIONS: BaselineOptions = { alpha: 0.01, minEvents: 50, minMinutes: 30 };

/** What one event looks like against the baseline learned before it. */
export interface Measurement {
  learning: boolean;
  /** Standard deviations above the baseline, per feature; absent when the event lacks the feature. */
  z: { rate: number; inputTokens?: number; outputTokens?: number };
  observed: { ratePerMinute: number; inputTokens?: number; outputTokens?: number };
  typical: { ratePerMinute: number; inputTokens: number; outputTokens: number };
}

const MS_PER_MINUTE = 60_000;
/** Idle minutes are folded in at once, but at most this many: older history is already forgotten by then. */
const MAX_IDLE_MINUTES = 24 * 60;
/** Updates are clipped to this many standard deviations, so one outlier cannot drag the baseline. */
const CLIP_Z = 4;

export function newAgentBaseline(timeMs: number): AgentBaseline {
  return {
    events: 0,
    firstMs: timeMs,
    minute: Math.floor(timeMs / MS_PER_MINUTE),
    minuteCount: 0,
    rate: emptyEwm(),
    inputTokens: emptyEwm(),
    outputTokens: emptyEwm(),
  };
}

export function observe(
  state: AgentBaseline,
  event: AiEvent,
  options: BaselineOptions = DEFAULT_BASELINE_OPTIONS,
): { state: AgentBaseline; measurement: Measurement } {
  const timeMs = event.time / 1000;
  const minute = Math.floor(timeMs / MS_PER_MINUTE);
  const rolled = rollMinutes(state, minute, options.alpha);
  // A late or replayed event belongs to a minute already closed: it says nothing about the current rate.
  const late = minute < rolled.minute;
  const current = late ? rolled.minuteCount : rolled.minuteCount + 1;
  const typicalRate = rolled.rate.mean;
  // Counts are Poisson-like: their spread is at least the square root of the mean.
  const rateFloor = Math.max(1, Math.sqrt(typicalRate));
  const measurement: Measurement = {
    learning: rolled.events < options.minEvents || timeMs - rolled.firstMs < options.minMinutes * MS_PER_MINUTE,
    z: { rate: rolled.rate.n === 0 || late ? 0 : zAbove(rolled.rate, current, rateFloor) },
    observed: { ratePerMinute: current },
    typical: {
      ratePerMinute: typicalRate,
      inputTokens: Math.expm1(rolled.inputTokens.mean),
      outputTokens: Math.expm1(rolled.outputTokens.mean),
    },
  };
  let { inputTokens, outputTokens } = rolled;
  if (event.input_tokens !== null) {
    const x = Math.log1p(event.input_tokens);
    if (inputTokens.n > 0) measurement.z.inputTokens = zAbove(inputTokens, x, 0.1);
    measurement.observed.inputTokens = event.input_tokens;
    inputTokens = updateEwm(inputTokens, clip(inputTokens, x), options.alpha);
  }
  if (event.output_tokens !== null) {
    const x = Math.log1p(event.output_tokens);
    if (outputTokens.n > 0) measurement.z.outputTokens = zAbove(outputTokens, x, 0.1);
    measurement.observed.outputTokens = event.output_tokens;
    outputTokens = updateEwm(outputTokens, clip(outputTokens, x), options.alpha);
  }
  return {
    state: { ...rolled, events: rolled.events + 1, minuteCount: current, inputTokens, outputTokens },
    measurement,
  };
}

/** Closes the minutes between the last event and this one into the rate history. */
function rollMinutes(state: AgentBaseline, minute: number, alpha: number): AgentBaseline {
  if (minute <= state.minute) return state;
  let rate = updateEwm(state.rate, clip(state.rate, state.minuteCount), alpha);
  const idle = Math.min(minute - state.minute - 1, MAX_IDLE_MINUTES);
  for (let i = 0; i < idle; i++) rate = updateEwm(rate, 0, alpha);
  return { ...state, minute, minuteCount: 0, rate };
}

function clip(state: Ewm, x: number): number {
  if (state.n < 10) return x;
  const bound = CLIP_Z * Math.max(Math.sqrt(state.variance), 0.1);
  return Math.min(Math.max(x, state.mean - bound), state.mean + bound);
}
