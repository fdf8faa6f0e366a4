import { CONFIG_KEYS, EVENT_LIMITS, type Finding } from '@aispm/core';
import { hasOpen, newKeyFindings, resolveQuiet, track } from './findings/lifecycle.ts';
import {
  DEFAULT_BASELINE_OPTIONS,
  baselineContext,
  newAgentBaseline,
  observe,
  reject,
  releaseBaseline,
  type AgentBaseline,
  type BaselineContext,
  type BaselineOptions,
  type Measurement,
} from './baseline/agent.ts';
import { decodeBaseline, encodeBaseline } from './baseline/snapshot.ts';
import { agentView, type EntityView, type ObservedEvent } from './baseline/view.ts';
import {
  DEFAULT_DRIFT_OPTIONS,
  advanceWindow,
  closeWindow,
  countInWindow,
  openWindow,
  type DriftLevel,
  type DriftOptions,
  type FeatureDrift,
  type WindowDrift,
} from './drift/window.ts';
import type { DriftReport, DriftSource } from './findings/drift.ts';
import {
  DEFAULT_SCORE_OPTIONS,
  scoreMeasurement,
  type Score,
  type ScoreOptions,
  type ScorePart,
} from './score/score.ts';

export const SCORE_MODEL = 'agent-baseline/2';

/**
 * Per-entity baselines for the events of the partitions this process owns, keyed
 * like the partition key, so an entity's state lives where its events land: an
 * agent's by tenant/app/agent on the events topic, a fleet entity's by
 * tenant/kind:name on the entities topic (baseline/view.ts).
 *
 * Seam for the processor and checkpointing:
 * - score(event) measures the event against its key's baseline, then learns
 *   from it. The Score carries `score`, `learning` and `parts` (feature, kind, z,
 *   score, reason); `rejected` lists values left out as invalid (counted per key
 *   in the snapshot, and per process in rejections()).
 * - takeDriftReports() (DriftSource, findings/drift.ts) returns the drift reports
 *   of windows closed since the last call: a key's window closes when its first
 *   event of a later window arrives, or, for keys gone quiet, when the newest event
 *   time seen passes the window's end by ALLOWED_LATENESS_MS (checked once per
 *   window length of event time, so the sweep over all keys stays rare).
 *   closeWindows(watermarkMs) forces that sweep (shutdown, tests). Report `psi`
 *   is the largest PSI *in excess of sampling noise* ((bins − 1)/n, see
 *   drift/window.ts); each feature keeps its raw PSI and JS. Only windows with
 *   enough events and a baseline past learning are judged.
 * - takeDirty/snapshot/restore/drop move a key's whole state (baseline, decay
 *   clock, open drift window) in and out for checkpoints, restarts and rebalances.
 *
 * Bounded state (every key starts with its tenant, see baseline/view.ts):
 * - Cap: at most `maxEntitiesPerTenant` keys per tenant. A new key of a tenant at
 *   its cap is not tracked: its event is scored UNTRACKED (score 0, learning, so
 *   it raises no finding), nothing is kept for it, and the refusal is counted per
 *   tenant (untracked()). A tenant's flood only ever fills its own count: keys are
 *   never evicted to make room, so other tenants' entities stay tracked. The check
 *   is one Map lookup per new key. Restored keys are always taken back (the state
 *   exists; refusing it would lose a baseline), so after a takeover a tenant may
 *   sit above its cap until idle keys age out. Which new keys a tenant at its cap
 *   gets tracked depends on the order keys first appear, so past the cap scores may
 *   differ after a restart that changes that order (below it, nothing changes).
 * - Ageing, by event time only: a key whose next event comes more than
 *   `entityIdleDays` after its previous one starts a new baseline (score()); and
 *   the sweep that closes quiet drift windows also evicts keys whose last event is
 *   that far behind the newest event time seen, freeing their memory and marking
 *   them dirty so the processor deletes their checkpoint (snapshot() gives an
 *   empty snapshot). The two agree: an evicted key's next event would have reset
 *   it anyway, unless it arrives more than the idle period later than events of
 *   other keys already seen.
 */
/**
 * What raises findings on a key (the processor's detection engine and anomaly
 * rule): called with each event's measurement against the key's baseline before
 * the event, under the key's state; may update the key's detector memos.
 */
export interface FindingRaiser {
  raise(input: RaiseInput, memos: Record<string, unknown>): Finding[];
}

export interface RaiseInput {
  event: ObservedEvent;
  view: EntityView;
  measurement: Measurement;
  score: Score;
}

export interface ScorerFindingsOptions {
  raiser: FindingRaiser;
  /** Minutes of event time without an occurrence after which an open finding is resolved. */
  quietMinutes: number;
}

export interface ScorerOptions extends BaselineOptions, DriftOptions, ScoreOptions {
  /** Findings raised per event and their lifecycle (findings/lifecycle.ts); none when absent. */
  findings?: ScorerFindingsOptions;
  /** Clock for judging event times (tests and replays pin it). */
  now: () => number;
  /** Most keys tracked per tenant (AISPM_MAX_ENTITIES_PER_TENANT). */
  maxEntitiesPerTenant: number;
  /** Days of event time without an event after which a key is forgotten (AISPM_ENTITY_IDLE_DAYS). */
  entityIdleDays: number;
}

/** The score of an event whose entity is not tracked (its tenant is at its cap): no baseline, so learning. */
export const UNTRACKED_SCORE: Score = Object.freeze({
  score: 0,
  learning: true,
  parts: Object.freeze([]) as unknown as ScorePart[],
});

/** The snapshot of a key whose state was evicted: its checkpoint is to be deleted. */
export const DELETED_SNAPSHOT: Buffer = Buffer.alloc(0);

/** The processor's drift report with this scorer's extras: the worst level, and per feature its noise, level and words. */
export type ScorerDriftReport = DriftReport & { level: DriftLevel; features: FeatureDrift[] };

/** How long after its end a quiet key's window waits for late events before the sweep closes it. */
export const ALLOWED_LATENESS_MS = 5 * 60_000;

/** Where an event scored for a fleet entity came from: its events-topic partition and offset. */
export interface EventSource {
  partition: number;
  offset: number;
}

export class Scorer implements DriftSource {
  private readonly baselines = new Map<string, AgentBaseline>();
  private readonly dirty = new Set<string>();
  /** Keys tracked per tenant (the cap's counter), and events of untracked keys per tenant. */
  private readonly tracked = new Map<string, number>();
  private readonly refused = new Map<string, number>();
  /** Keys evicted as idle whose checkpoint is not deleted yet (snapshot() hands out the deletion once). */
  private readonly evicted = new Set<string>();
  private evictedCount = 0;
  private refusedCount = 0;
  private readonly idleMs: number;
  private readonly ctx: BaselineContext;
  private readonly options: ScorerOptions;
  private readonly rejectedCounts: Record<string, number> = {};
  private pendingDrift: ScorerDriftReport[] = [];
  private pendingResolved: Finding[] = [];
  /** Newest valid event time seen, and the window (index) the last sweep covered. */
  private watermarkMs = Number.NEGATIVE_INFINITY;
  private sweptWindow = Number.NEGATIVE_INFINITY;

  constructor(options: Partial<ScorerOptions> = {}) {
    this.options = {
      ...DEFAULT_BASELINE_OPTIONS,
      ...DEFAULT_DRIFT_OPTIONS,
      ...DEFAULT_SCORE_OPTIONS,
      now: Date.now,
      maxEntitiesPerTenant: CONFIG_KEYS.maxEntitiesPerTenant.default,
      entityIdleDays: CONFIG_KEYS.entityIdleDays.default,
      ...options,
    };
    this.ctx = baselineContext(this.options);
    this.idleMs = this.options.entityIdleDays * 86_400_000;
  }

  get entities(): number {
    return this.baselines.size;
  }

  /** Bytes of the baselines' numeric state (arena blocks in use); objects, keys and names come on top. */
  get stateBytes(): number {
    return this.ctx.arena.usage().liveFloats * Float32Array.BYTES_PER_ELEMENT;
  }

  /** The cap on keys tracked per tenant. */
  get maxEntitiesPerTenant(): number {
    return this.options.maxEntitiesPerTenant;
  }

  /** Events scored without a baseline since start because their tenant was at its cap, all tenants. */
  get untrackedEvents(): number {
    return this.refusedCount;
  }

  /** Keys tracked for one tenant. */
  trackedOf(tenant: string): number {
    return this.tracked.get(tenant) ?? 0;
  }

  /** Events scored without a baseline since start because their tenant was at its cap, by tenant. */
  untracked(): Record<string, number> {
    return Object.fromEntries(this.refused);
  }

  /** Keys evicted as idle since start. */
  get evictions(): number {
    return this.evictedCount;
  }

  /** Values refused since start, by reason code (out-of-range numbers, oversized fields, implausible times). */
  rejections(): Record<string, number> {
    return { ...this.rejectedCounts };
  }

  /**
   * Scores the event against the baseline of `view` (its agent's by default), then
   * learns from it. `source`, for fleet entities, records the event as folded in.
   */
  score(event: ObservedEvent, view: EntityView = agentView(event), source?: EventSource, found?: Finding[]): Score {
    const { key } = view;
    const timeMs = event.time / 1000;
    const nowMs = this.options.now();
    const timeOk =
      Number.isFinite(timeMs) &&
      timeMs <= nowMs + EVENT_LIMITS.maxFutureSkewMs &&
      timeMs >= nowMs - EVENT_LIMITS.maxAgeMs;
    let state = this.baselines.get(key);
    if (state && timeOk && timeMs - state.lastMs > this.idleMs) {
      // Idle past the ageing period: what the sweep would have evicted starts again, whether it was or not.
      const { sources, findings } = state;
      releaseBaseline(state, this.ctx);
      state = newAgentBaseline(event, view, this.ctx);
      if (sources && state.sources) state.sources = sources;
      state.findings = findings;
      this.baselines.set(key, state);
    } else if (!state) {
      const tracked = this.tracked.get(event.tenant) ?? 0;
      if (tracked >= this.options.maxEntitiesPerTenant) {
        this.refused.set(event.tenant, (this.refused.get(event.tenant) ?? 0) + 1);
        this.refusedCount++;
        if (timeOk && timeMs > this.watermarkMs) this.watermarkMs = timeMs;
        return UNTRACKED_SCORE;
      }
      state = newAgentBaseline(event, view, this.ctx);
      this.baselines.set(key, state);
      this.tracked.set(state.tenant, tracked + 1);
      if (this.evicted.size > 0) this.evicted.delete(key);
    }
    this.dirty.add(key);
    if (source && state.sources) state.sources[source.partition] = source.offset;
    if (timeOk) {
      const drift = advanceWindow(state, this.ctx, this.options, timeMs);
      if (drift) this.pendingDrift.push(driftReport(key, drift));
      if (timeMs > this.watermarkMs) this.watermarkMs = timeMs;
    }
    const measurement = observe(state, event, this.ctx, timeOk);
    if (timeOk) countInWindow(state, this.ctx, event);
    else
      reject(
        state,
        measurement.rejected,
        'time_implausible',
        `time ${event.time} µs is implausible; scored without time-based features`,
      );
    for (const { code } of measurement.rejected) this.rejectedCounts[code] = (this.rejectedCounts[code] ?? 0) + 1;
    const score = scoreMeasurement(measurement, `${view.entity} \`${view.name}\``, this.options);
    const raiser = this.options.findings?.raiser;
    if (raiser && found) {
      const memos = state.findings?.memos ?? {};
      const raised = raiser.raise({ event, view, measurement, score }, memos);
      if (raised.length > 0 || Object.keys(memos).length > 0) {
        state.findings ??= newKeyFindings();
        state.findings.memos = memos;
        for (const f of raised) {
          track(state.findings, f);
          found.push(f);
        }
      }
    }
    return score;
  }

  /** Records findings raised outside score() (drift) on their key's lifecycle. */
  trackFinding(key: string, finding: Finding): void {
    const state = this.baselines.get(key);
    if (!state) return;
    state.findings ??= newKeyFindings();
    track(state.findings, finding);
    this.dirty.add(key);
  }

  /** Findings resolved by the sweeps since the last call (see findings/lifecycle.ts). */
  takeResolved(): Finding[] {
    const resolved = this.pendingResolved;
    this.pendingResolved = [];
    return resolved;
  }

  /** Resolves the open findings quiet since before `watermarkMs` less the quiet period; all of them with `all`. */
  private resolveQuiet(watermarkMs: number): void {
    const quiet = this.options.findings?.quietMinutes;
    if (quiet === undefined) return;
    const before = (watermarkMs - quiet * 60_000) * 1000;
    for (const [key, state] of this.baselines) {
      if (!hasOpen(state.findings)) continue;
      const resolved = resolveQuiet(state.findings!, state.tenant, before);
      if (resolved.length === 0) continue;
      for (const f of resolved) this.pendingResolved.push(f);
      this.dirty.add(key);
    }
  }

  /** Whether a fleet entity's state already holds this event (the agents stage published it again on a replay). */
  folded(key: string, source: EventSource): boolean {
    const last = this.baselines.get(key)?.sources?.[source.partition];
    return last !== undefined && source.offset <= last;
  }

  /** Drift reports of the windows closed since the last call (see the seam notes above). */
  takeDriftReports(): ScorerDriftReport[] {
    const length = this.options.windowMinutes * 60_000;
    const window = Math.floor((this.watermarkMs - ALLOWED_LATENESS_MS) / length);
    if (Number.isFinite(window) && window > this.sweptWindow) {
      this.sweptWindow = window;
      this.closeWindows(this.watermarkMs - ALLOWED_LATENESS_MS);
      this.resolveQuiet(this.watermarkMs);
      this.evictIdle(this.watermarkMs);
    }
    const reports = this.pendingDrift;
    this.pendingDrift = [];
    return reports;
  }

  /** Closes the drift windows of keys whose window ended by `watermarkMs` (event time); their reports join the pending ones. */
  closeWindows(watermarkMs: number): void {
    const length = this.options.windowMinutes * 60_000;
    for (const [key, state] of this.baselines) {
      if (state.window.startMs + length > watermarkMs) continue;
      const drift = closeWindow(state, this.ctx, this.options);
      if (drift) this.pendingDrift.push(driftReport(key, drift));
      openWindow(state, this.ctx, Math.floor(watermarkMs / length) * length);
      this.dirty.add(key);
    }
  }

  /**
   * Evicts keys with no event in the idle period before `watermarkMs` (event time):
   * their memory goes now, their checkpoint with the next one of their partition
   * (they are dirty, and snapshot() gives DELETED_SNAPSHOT).
   */
  evictIdle(watermarkMs: number): void {
    const before = watermarkMs - this.idleMs;
    for (const [key, state] of this.baselines) {
      if (state.lastMs >= before) continue;
      // Idle far longer than any quiet period: what is still open is over.
      if (hasOpen(state.findings))
        for (const f of resolveQuiet(state.findings!, state.tenant, Number.POSITIVE_INFINITY))
          this.pendingResolved.push(f);
      this.forget(key, state);
      this.evicted.add(key);
      this.dirty.add(key);
      this.evictedCount++;
    }
  }

  /** Keys whose state changed since the last call; the caller checkpoints them. */
  takeDirty(): string[] {
    const keys = [...this.dirty];
    this.dirty.clear();
    return keys;
  }

  /**
   * The serialized state of one key; DELETED_SNAPSHOT (empty), once, for a key
   * evicted as idle, whose checkpoint is to be deleted; null when it has neither.
   */
  snapshot(key: string): Buffer | null {
    const state = this.baselines.get(key);
    if (state) return encodeBaseline(state, this.ctx.arena);
    return this.evicted.delete(key) ? DELETED_SNAPSHOT : null;
  }

  /** Replaces one key's state with a snapshot taken earlier (by this or another process). */
  restore(key: string, snapshot: Buffer): void {
    const restored = decodeBaseline(key, snapshot, this.ctx);
    this.drop([key]);
    this.baselines.set(key, restored);
    this.tracked.set(restored.tenant, (this.tracked.get(restored.tenant) ?? 0) + 1);
  }

  /** Forgets keys this process no longer owns (after a rebalance). */
  drop(keys: Iterable<string>): void {
    for (const key of keys) {
      const state = this.baselines.get(key);
      if (state) this.forget(key, state);
      this.dirty.delete(key);
      this.evicted.delete(key);
    }
  }

  private forget(key: string, state: AgentBaseline): void {
    releaseBaseline(state, this.ctx);
    this.baselines.delete(key);
    const left = (this.tracked.get(state.tenant) ?? 1) - 1;
    if (left > 0) this.tracked.set(state.tenant, left);
    else this.tracked.delete(state.tenant);
  }
}

/** A closed window's drift in the processor's report shape (findings/drift.ts). */
function driftReport(key: string, drift: WindowDrift): ScorerDriftReport {
  let excess = 0;
  for (const f of drift.features) excess = Math.max(excess, f.psi - f.noise);
  return {
    tenant: drift.tenant,
    entity: key,
    entity_type: drift.entity,
    window_start: drift.windowStartMs * 1000,
    window_end: drift.windowEndMs * 1000,
    psi: excess,
    js: drift.js,
    level: drift.level,
    features: drift.features,
    learning: false,
  };
}
