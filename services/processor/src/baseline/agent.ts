import type { KeyFindings } from '../findings/lifecycle.ts';
import { EVENT_LIMITS, type AiEvent } from '@aispm/core';
import { Arena, offsetOf } from './arena.ts';
import {
  MIX,
  addToMix,
  intern,
  isOpen,
  mixSlots,
  mixTotal,
  newMixes,
  scaleMixes,
  slotOf,
  slotWeight,
  type MixOwner,
} from './categorical.ts';
import {
  isFleetEntity,
  modelOf,
  type FleetEntity,
  type EntityKind,
  type EntityView,
  type ObservedEvent,
} from './view.ts';
import { EWM_FLOATS, ewmCount, ewmMean, ewmVariance, updateEwm } from './ewm.ts';
import {
  DEFAULT_SKETCH_PARAMS,
  addToSketch,
  newSketch,
  quartiles,
  scaleSketch,
  sketchMapping,
  sketchTotal,
  type SketchMapping,
} from './sketch.ts';

/**
 * The baseline of one entity (view.ts): an agent or app, keyed like the events
 * (tenant/app/agent), or a fleet-wide user, identity, model or tool, keyed
 * tenant/kind:name by the entities stage. An agent's state also holds its view of
 * the users, identities, models and tools it deals with (its categorical mixes,
 * capped per field): "has *this agent* used this tool before". The fleet
 * baselines ask the other question: "has *this user* (across every agent) used
 * it before", "did *this model* change, whichever app calls it".
 *
 * Everything decays with event time by forward decay (Cormode et al., ICDE 2009):
 * an event at time t weighs g(t) = 2^((t − landmark)/halfLife), so older
 * observations count for relatively less without touching them on every event;
 * when g grows past RESCALE_AT, all weights are divided by it and the landmark moves.
 *
 * Numeric state lives in arena blocks (arena.ts), referenced by handle: the
 * hour-of-week weights, the sketches, the mixes (categorical.ts) and the drift
 * window's bins. Mutable on purpose: the Scorer owns it, and the hot path
 * allocates little. releaseBaseline gives the blocks back.
 */
export interface AgentBaseline extends MixOwner {
  tenant: string;
  app: string;
  /** What the key stands for (its name is in the key). */
  entity: EntityKind;
  /** Events counted (not decayed) and the span of event time they cover. */
  events: number;
  firstMs: number;
  lastMs: number;
  landmarkMs: number;
  /** Minute (event time) being counted, its count so far, and the per-minute count history (idle minutes included). */
  minute: number;
  minuteCount: number;
  /**
   * Block of the key's activity: the decayed event weight per hour of the week
   * (168 floats, 0 = Monday 00:00 UTC), then the EWM of per-minute counts (ewm.ts).
   */
  activity: number;
  /** Sketch handles (sketch.ts). */
  numeric: Record<NumericFeature, number>;
  /** The last action, for transition probabilities. */
  prev: string | null;
  window: DriftWindow;
  /** Values refused (out of range, oversized), by reason; they never enter the baseline. */
  rejected: Record<string, number>;
  /**
   * Fleet entities only: per events-topic partition, the offset of the last event
   * folded in, so an event the agents stage published twice (a replay) counts once.
   */
  sources: Record<string, number> | null;
  /** Detector memos and open findings (findings/lifecycle.ts); null until the key raises or detects anything. */
  findings: KeyFindings | null;
}

/** The drift window in progress; see drift/window.ts. */
export interface DriftWindow {
  startMs: number;
  events: number;
  /** Block of each numeric feature's bin bounds, baseline shares and window counts, or NO_BLOCK while learning. */
  bins: number;
}

/** A handle standing for "no block". */
export const NO_BLOCK = -1;

export const NUMERIC_FEATURES = ['input_tokens', 'output_tokens', 'latency'] as const;
export type NumericFeature = (typeof NUMERIC_FEATURES)[number];
/** Fields whose values are scored for novelty and rarity, and checked for drift. */
export type ScoredField = 'tool' | 'model' | 'destination' | 'operation' | 'user' | 'identity' | 'agent' | 'app';
const AGENT_FIELDS: readonly ScoredField[] = ['tool', 'model', 'destination', 'operation', 'user', 'identity'];
/**
 * A fleet entity's fields: who uses it (agents, apps) and what with. Its agents
 * take the user mix's place in the block and its apps the identity mix's (a fleet
 * entity tracks no users or identities of its own).
 */
const FLEET_FIELDS: Record<FleetEntity, readonly ScoredField[]> = {
  user: ['tool', 'model', 'destination', 'operation', 'agent', 'app'],
  identity: ['tool', 'model', 'destination', 'operation', 'agent', 'app'],
  model: ['destination', 'operation', 'agent', 'app'],
  tool: ['destination', 'agent', 'app'],
};
export const fieldsOf = (entity: EntityKind): readonly ScoredField[] =>
  isFleetEntity(entity) ? FLEET_FIELDS[entity] : AGENT_FIELDS;
/** Where each field's mix sits in the mixes block. */
export const MIX_OF: Record<ScoredField, number> = {
  tool: MIX.tool,
  model: MIX.model,
  destination: MIX.destination,
  operation: MIX.operation,
  user: MIX.user,
  identity: MIX.identity,
  agent: MIX.user,
  app: MIX.identity,
};
const FIELD_VALUE: Record<ScoredField, (e: ObservedEvent) => string | null> = {
  tool: (e) => e.tool_name,
  model: modelOf,
  destination: (e) => e.destination,
  operation: (e) => e.operation ?? e.kind,
  user: (e) => e.user,
  identity: (e) => e.identity,
  agent: (e) => e.agent,
  app: (e) => e.app,
};
/** Whose latency a baseline learns: a tool's own calls; for everything else, the model calls (see observe). */
export const latencyKind = (entity: EntityKind): AiEvent['kind'] => (entity === 'tool' ? 'tool_call' : 'llm_call');

export interface BaselineOptions {
  /** Weight of the newest minute in the per-minute rate history; 0.01 ≈ the last 100 minutes. */
  alpha: number;
  /** Events before the baseline is trusted; scores made earlier are marked `learning`. */
  minEvents: number;
  /** Minutes of event time before the baseline is trusted. */
  minMinutes: number;
  /** Half-life of every decayed weight, in hours of event time. */
  halfLifeHours: number;
  /** Relative accuracy of the token and latency sketches, and their bucket cap. */
  sketchAlpha: number;
  sketchMaxBins: number;
  /** Values tracked per categorical field per entity (tools, models, destinations, operations); more overflow uncounted. */
  maxValues: number;
  /**
   * Users and identities tracked per entity. Lower: a customer-facing agent serves
   * thousands, and its mix simply becomes open (a new user is not news there); an
   * agent serving a handful of service accounts keeps novelty on them.
   */
  maxUsers: number;
  /** Action-to-action transitions tracked per agent. */
  maxTransitions: number;
}

export const DEFAULT_BASELINE_OPTIONS: BaselineOptions = {
  alpha: 0.01,
  minEvents: 50,
  minMinutes: 30,
  halfLifeHours: 72,
  sketchAlpha: DEFAULT_SKETCH_PARAMS.alpha,
  sketchMaxBins: DEFAULT_SKETCH_PARAMS.maxBins,
  maxValues: 32,
  maxUsers: 16,
  maxTransitions: 64,
};

/** What one event looks like against the baseline learned before it. */
export interface Measurement {
  learning: boolean;
  /** Event time covered by the baseline before this event. */
  ageMs: number;
  rate: { z: number; observed: number; typical: number };
  numeric: NumericMeasure[];
  categorical: CategoricalMeasure[];
  sequence: SequenceMeasure | null;
  /** Values of this event left out as invalid, with why. */
  rejected: Rejection[];
}

export interface Rejection {
  code: string;
  message: string;
}

export interface NumericMeasure {
  feature: NumericFeature;
  value: number;
  median: number;
  /** Median absolute deviation of ln(1 + x), from the quartiles. */
  madLog: number;
  /** MADs of ln(1 + x) above the median. */
  z: number;
}

export interface CategoricalMeasure {
  field: ScoredField;
  value: string;
  novel: boolean;
  /** Smoothed probability of this value (of any unseen value, when novel). */
  p: number;
}

export interface SequenceMeasure {
  from: string;
  to: string;
  seen: boolean;
  /** Smoothed P(to | from). */
  p: number;
}

/** Precomputed constants for a set of options, and the arena holding the baselines' numeric state. */
export interface BaselineContext {
  options: BaselineOptions;
  mapping: SketchMapping;
  /** ln 2 / half-life, per ms. */
  lambda: number;
  arena: Arena;
}

export function baselineContext(options: Partial<BaselineOptions> = {}, arena = new Arena()): BaselineContext {
  const full = { ...DEFAULT_BASELINE_OPTIONS, ...options };
  return {
    options: full,
    mapping: sketchMapping({ alpha: full.sketchAlpha, maxBins: full.sketchMaxBins }),
    lambda: Math.LN2 / (full.halfLifeHours * MS_PER_HOUR),
    arena,
  };
}

const MS_PER_MINUTE = 60_000;
const MS_PER_HOUR = 3_600_000;
const MS_PER_WEEK = 7 * 24 * MS_PER_HOUR;
/** 1970-01-01 was a Thursday: shift so hour 0 of the week is Monday 00:00 UTC. */
const WEEK_SHIFT_MS = 3 * 24 * MS_PER_HOUR;
/** Idle minutes are folded in at once, but at most this many: older history is already forgotten by then. */
const MAX_IDLE_MINUTES = 24 * 60;
/** Rate updates are clipped to this many standard deviations, so one burst cannot drag the baseline. */
const CLIP_Z = 4;
/** Forward-decay weights are rescaled before they grow past this. */
const RESCALE_AT = 2 ** 20;
/**
 * Most effective (decayed) events a key remembers. A float32 sum absorbs an
 * addition only to 2^-24 of its size: past this many, weights are halved (see
 * capMemory), so a very busy key forgets faster instead of losing precision. Checked
 * once per drift window: a key would need over 1,000 events/s to double it between checks.
 */
const MAX_EFFECTIVE_EVENTS = 2 ** 20;
const HOURS_PER_WEEK = 168;
/** Where the rate history starts in the activity block. */
const RATE = HOURS_PER_WEEK;
export const ACTIVITY_FLOATS = HOURS_PER_WEEK + EWM_FLOATS;
/** Effective observations a mix or a transition source needs before it is scored. */
const MIN_SCORED = 20;
/** Effective observations a sketch needs before robust z is scored: quartiles of fewer are too noisy. */
const MIN_SKETCH_SCORED = 40;
/** Strength, in observations, of the prior that a step is as likely as its action overall. */
const SEQUENCE_PRIOR = 10;
/** Floor of the log-scale MAD: a near-constant history must not make every wiggle huge. */
const MAD_LOG_FLOOR = 0.05;
/** The hour-of-week profile shapes the expected rate only once it has seen a week. */
const PROFILE_MIN_MS = MS_PER_WEEK;
const MAX_VALUE_LENGTH = EVENT_LIMITS.maxIdentifierLength;
/** Room for an action's prefix ("tool:", "llm_call:") in front of a value of MAX_VALUE_LENGTH. */
const ACTION_PREFIX_LENGTH = 16;

/** Shared by every key that never had a value refused; reject() gives the key its own object first. */
const NO_REJECTIONS: Record<string, number> = Object.freeze({});

export function newAgentBaseline(
  event: Pick<AiEvent, 'tenant' | 'app' | 'time'>,
  view: Pick<EntityView, 'entity'>,
  { arena }: BaselineContext,
): AgentBaseline {
  const timeMs = event.time / 1000;
  const { names, mixes } = newMixes(arena);
  return {
    // Tenants and apps are shared by many keys: hold one copy each.
    tenant: intern(event.tenant),
    app: intern(event.app),
    entity: view.entity,
    events: 0,
    firstMs: timeMs,
    lastMs: timeMs,
    landmarkMs: timeMs,
    minute: Math.floor(timeMs / MS_PER_MINUTE),
    minuteCount: 0,
    activity: arena.alloc(ACTIVITY_FLOATS),
    numeric: { input_tokens: newSketch(arena), output_tokens: newSketch(arena), latency: newSketch(arena) },
    names,
    mixes,
    prev: null,
    window: { startMs: Number.NEGATIVE_INFINITY, events: 0, bins: NO_BLOCK },
    rejected: NO_REJECTIONS,
    sources: isFleetEntity(view.entity) ? {} : null,
    findings: null,
  };
}

/** Gives the key's arena blocks back (the key is dropped or replaced). */
export function releaseBaseline(state: AgentBaseline, { arena }: BaselineContext): void {
  arena.release(state.activity);
  for (const feature of NUMERIC_FEATURES) arena.release(state.numeric[feature]);
  arena.release(state.mixes);
  if (state.window.bins !== NO_BLOCK) arena.release(state.window.bins);
}

export const isLearning = (state: AgentBaseline, timeMs: number, options: BaselineOptions): boolean =>
  state.events < options.minEvents || timeMs - state.firstMs < options.minMinutes * MS_PER_MINUTE;

/** The forward-decay weight at `timeMs` relative to the key's landmark (decayWeight also rescales). */
export const weightAt = (state: AgentBaseline, { lambda }: BaselineContext, timeMs: number): number =>
  Math.exp(lambda * (timeMs - state.landmarkMs));

/** The forward-decay weight of an event at `timeMs`, rescaling the state first when weights grow too large. */
export function decayWeight(state: AgentBaseline, timeMs: number, ctx: BaselineContext): number {
  let weight = weightAt(state, ctx, timeMs);
  if (weight > RESCALE_AT) {
    rescale(state, ctx, 1 / weight);
    state.landmarkMs = timeMs;
    weight = 1;
  }
  return weight;
}

/**
 * Halves every weight of a key that remembers more than MAX_EFFECTIVE_EVENTS. Run
 * when a drift window opens, so that no scale change falls inside a window (the
 * window's baseline side is computed at the window's decay weight).
 */
export function capMemory(state: AgentBaseline, ctx: BaselineContext, timeMs: number): void {
  // Every event adds its weight to the action mix, so its total is the key's decayed event mass.
  const now = weightAt(state, ctx, timeMs);
  if (mixTotal(ctx.arena, state, MIX.action) > MAX_EFFECTIVE_EVENTS * now) rescale(state, ctx, 0.5);
}

function rescale(state: AgentBaseline, { arena }: BaselineContext, factor: number): void {
  const hours = arena.chunkOf(state.activity);
  const o = offsetOf(state.activity);
  for (let h = o; h < o + HOURS_PER_WEEK; h++) hours[h] = (hours[h] as number) * factor;
  for (const feature of NUMERIC_FEATURES) scaleSketch(arena, state.numeric[feature], factor);
  scaleMixes(arena, state, factor);
}

/**
 * Measures `event` against the baseline, then learns from it. Out-of-range
 * values are measured as missing, counted in `state.rejected`, and never learned.
 * `timeOk` false (the caller found the time implausible) keeps the event out of
 * every time-based statistic: rate, hour profile, decay clock.
 */
export function observe(state: AgentBaseline, event: ObservedEvent, ctx: BaselineContext, timeOk = true): Measurement {
  const { options } = ctx;
  const timeMs = timeOk ? event.time / 1000 : state.lastMs;
  const rejected: Rejection[] = [];
  const learning = isLearning(state, timeMs, options);
  const weight = decayWeight(state, timeMs, ctx);

  const rate = timeOk
    ? measureRate(state, timeMs, ctx)
    : { z: 0, observed: state.minuteCount, typical: rateMean(state, ctx.arena) };

  const step: Step = { state, ctx, weight, rejected };
  const numeric: NumericMeasure[] = [];
  numericFeature(step, 'input_tokens', event.input_tokens, EVENT_LIMITS.maxTokens, numeric);
  numericFeature(step, 'output_tokens', event.output_tokens, EVENT_LIMITS.maxTokens, numeric);
  // One kind's latency only (latencyKind): tool and agent spans are other populations than model
  // calls (a 3 s agent step next to 150 ms tool calls), and a sketch per kind would cost memory for little.
  if (event.kind === latencyKind(state.entity))
    numericFeature(step, 'latency', event.latency_ms, EVENT_LIMITS.maxLatencyMs, numeric);
  else if (!(event.latency_ms >= 0 && event.latency_ms <= EVENT_LIMITS.maxLatencyMs))
    reject(
      state,
      rejected,
      'latency_out_of_range',
      `latency ${event.latency_ms} is outside [0, ${EVENT_LIMITS.maxLatencyMs}]; ignored`,
    );

  const categorical: CategoricalMeasure[] = [];
  for (const field of fieldsOf(state.entity)) {
    const cap = field === 'user' || field === 'identity' ? options.maxUsers : options.maxValues;
    categoricalField(step, field, FIELD_VALUE[field](event), cap, categorical);
  }

  const action = actionOf(event);
  // An oversized tool or operation was refused above; it must not come in through the action mixes either.
  // Sequences are an agent's own: a fleet entity's events interleave many agents' steps.
  const sequence = action === null ? null : transition(step, action, !isFleetEntity(state.entity));

  if (timeOk) {
    const hours = ctx.arena.chunkOf(state.activity);
    const at = offsetOf(state.activity) + hourOfWeek(timeMs);
    hours[at] = (hours[at] as number) + weight;
    if (timeMs > state.lastMs) state.lastMs = timeMs;
    if (timeMs < state.firstMs) state.firstMs = timeMs;
  }
  const ageMs = state.lastMs - state.firstMs;
  state.events++;
  return { learning, ageMs, rate, numeric, categorical, sequence, rejected };
}

/** Hour of the week of a time, 0 = Monday 00:00–01:00 UTC. */
export const hourOfWeek = (timeMs: number): number =>
  Math.floor(((((timeMs + WEEK_SHIFT_MS) % MS_PER_WEEK) + MS_PER_WEEK) % MS_PER_WEEK) / MS_PER_HOUR);

/** Counts a refused value in the key's state and reports it with the measurement. */
export function reject(state: AgentBaseline, rejected: Rejection[], code: string, message: string): void {
  if (state.rejected === NO_REJECTIONS) state.rejected = {};
  state.rejected[code] = (state.rejected[code] ?? 0) + 1;
  rejected.push({ code, message });
}

/** An agent's action, for transitions: the tool it called, or the kind and operation of the span; null when oversized. */
function actionOf(event: ObservedEvent): string | null {
  const action = event.tool_name !== null ? `tool:${event.tool_name}` : `${event.kind}:${event.operation ?? ''}`;
  return action.length > MAX_VALUE_LENGTH + ACTION_PREFIX_LENGTH ? null : action;
}

function measureRate(state: AgentBaseline, timeMs: number, { options, arena }: BaselineContext): Measurement['rate'] {
  const minute = Math.floor(timeMs / MS_PER_MINUTE);
  rollMinutes(state, arena, minute, options.alpha);
  // A late or replayed event belongs to a minute already closed: it says nothing about the current rate.
  if (minute < state.minute) return { z: 0, observed: state.minuteCount, typical: rateMean(state, arena) };
  state.minuteCount++;
  const factor = hourFactor(state, arena, timeMs);
  const d = arena.chunkOf(state.activity);
  const rate = offsetOf(state.activity) + RATE;
  const typical = ewmMean(d, rate) * factor;
  // Counts are Poisson-like: their spread is at least the square root of the mean.
  const spread = Math.max(Math.sqrt(ewmVariance(d, rate)) * factor, Math.sqrt(typical), 1);
  const z = ewmCount(d, rate) === 0 ? 0 : (state.minuteCount - typical) / spread;
  return { z, observed: state.minuteCount, typical };
}

/** How busy this hour of the week usually is relative to the average hour (1 until a week is known). */
function hourFactor(state: AgentBaseline, arena: Arena, timeMs: number): number {
  if (state.lastMs - state.firstMs < PROFILE_MIN_MS) return 1;
  const hours = arena.chunkOf(state.activity);
  const o = offsetOf(state.activity);
  let total = 0;
  for (let h = o; h < o + HOURS_PER_WEEK; h++) total += hours[h] as number;
  const share = ((hours[o + hourOfWeek(timeMs)] as number) * HOURS_PER_WEEK) / Math.max(total, 1e-12);
  return Math.min(10, Math.max(0.1, share));
}

/** The typical events per minute so far. */
const rateMean = (state: AgentBaseline, arena: Arena): number =>
  ewmMean(arena.chunkOf(state.activity), offsetOf(state.activity) + RATE);

/** Closes the minutes between the last event and this one into the rate history. */
function rollMinutes(state: AgentBaseline, arena: Arena, minute: number, alpha: number): void {
  if (minute <= state.minute) return;
  const d = arena.chunkOf(state.activity);
  const rate = offsetOf(state.activity) + RATE;
  updateEwm(d, rate, clip(d, rate, state.minuteCount), alpha);
  const idle = Math.min(minute - state.minute - 1, MAX_IDLE_MINUTES);
  for (let i = 0; i < idle; i++) updateEwm(d, rate, 0, alpha);
  state.minute = minute;
  state.minuteCount = 0;
}

/** A minute's count clipped to CLIP_Z standard deviations of the history (once it has one). */
function clip(d: Float32Array, rate: number, x: number): number {
  if (ewmCount(d, rate) < 10) return x;
  const mean = ewmMean(d, rate);
  const bound = CLIP_Z * Math.max(Math.sqrt(ewmVariance(d, rate)), 1);
  return Math.min(Math.max(x, mean - bound), mean + bound);
}

/**
 * One event's pass through a baseline: its forward-decay weight, which is also
 * the scale of "now" (a decayed total divided by it is a count of effective
 * observations), and where refused values are reported.
 */
interface Step {
  state: AgentBaseline;
  ctx: BaselineContext;
  weight: number;
  rejected: Rejection[];
}

const q = new Float64Array(3);

function numericFeature(
  { state, ctx, weight, rejected }: Step,
  feature: NumericFeature,
  value: number | null,
  max: number,
  out: NumericMeasure[],
): void {
  if (value === null) return;
  if (!Number.isFinite(value) || value < 0 || value > max) {
    reject(state, rejected, `${feature}_out_of_range`, `${feature} ${value} is outside [0, ${max}]; ignored`);
    return;
  }
  const { arena, mapping } = ctx;
  const sketch = state.numeric[feature];
  if (sketchTotal(arena, sketch) / weight >= MIN_SKETCH_SCORED) {
    quartiles(arena, sketch, mapping, q);
    const median = q[1] as number;
    const madLog = Math.max((Math.log1p(q[2] as number) - Math.log1p(q[0] as number)) / 2, MAD_LOG_FLOOR);
    out.push({ feature, value, median, madLog, z: (Math.log1p(value) - Math.log1p(median)) / madLog });
  }
  state.numeric[feature] = addToSketch(arena, sketch, mapping, value, weight);
}

function categoricalField(
  { state, ctx, weight, rejected }: Step,
  field: ScoredField,
  value: string | null,
  cap: number,
  out: CategoricalMeasure[],
): void {
  if (value === null || value === '') return;
  if (value.length > MAX_VALUE_LENGTH) {
    reject(state, rejected, `${field}_too_long`, `${field} is longer than ${MAX_VALUE_LENGTH} characters; ignored`);
    return;
  }
  const { arena } = ctx;
  const mix = MIX_OF[field];
  const slot = slotOf(arena, state, mix, value);
  const n = mixTotal(arena, state, mix) / weight;
  if (n >= MIN_SCORED && !isOpen(arena, state, mix)) {
    // Chinese-restaurant estimate: an unseen value has probability (distinct + 1) / (n + distinct + 1).
    const { first, end } = mixSlots(arena, state, mix);
    const distinct = end - first + 1;
    const p = slot < 0 ? distinct / (n + distinct) : slotWeight(arena, state, slot) / weight / (n + distinct);
    out.push({ field, value, novel: slot < 0, p });
  }
  addToMix(arena, state, mix, value, slot, weight, cap);
}

/**
 * Measures and learns the step from the previous action to this one. Without
 * `sequences`, only the action mix learns (it is the key's event mass, see capMemory).
 */
function transition({ state, ctx, weight }: Step, action: string, sequences: boolean): SequenceMeasure | null {
  const { options, arena } = ctx;
  const actions = MIX.action;
  const transitions = MIX.transition;
  const from = sequences ? state.prev : null;
  let measure: SequenceMeasure | null = null;
  const pair = from === null ? '' : `${from}>${action}`;
  const pairSlot = from === null ? -1 : slotOf(arena, state, transitions, pair);
  const toSlot = slotOf(arena, state, actions, action);
  if (from !== null && !isOpen(arena, state, transitions) && !isOpen(arena, state, actions)) {
    const fromSlot = slotOf(arena, state, actions, from);
    const nFrom = fromSlot < 0 ? 0 : slotWeight(arena, state, fromSlot) / weight;
    if (nFrom >= MIN_SCORED && toSlot >= 0) {
      // P(to | from) with a Dirichlet prior of SEQUENCE_PRIOR pseudo-observations at how common `to` is
      // overall: an unseen step is only surprising once `from` was seen often enough to expect it.
      const marginal = slotWeight(arena, state, toSlot) / mixTotal(arena, state, actions);
      const nPair = pairSlot < 0 ? 0 : slotWeight(arena, state, pairSlot) / weight;
      measure = {
        from,
        to: action,
        seen: pairSlot >= 0,
        p: (nPair + SEQUENCE_PRIOR * marginal) / (nFrom + SEQUENCE_PRIOR),
      };
    }
  }
  addToMix(arena, state, actions, action, toSlot, weight, options.maxValues);
  if (from !== null) addToMix(arena, state, transitions, pair, pairSlot, weight, options.maxTransitions);
  // Interned: the same few actions recur in every key, and the previous one is held per key.
  if (sequences) state.prev = intern(action);
  return measure;
}
