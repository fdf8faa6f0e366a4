import {
  CONFIG_KEYS,
  InvalidRecordError,
  silentLogger,
  type Config,
  type Logger,
  type OutgoingRecord,
  consumerGroups,
  createFindingCodec,
  dedupFindings,
  type Finding,
} from '@aispm/core';
import { type Batch, type Bus, type BusRecord, type Subscription } from '@aispm/bus';
import {
  dedupToken,
  DEFAULT_STORE_RETRY,
  insertResilient,
  type ResilientInsertOptions,
  type Row,
  type Store,
  type StoreRetry,
} from '@aispm/store';
import { Scorer, type FindingRaiser, type ScorerOptions } from './scorer.ts';
import type { StateBackend } from './state/backend.ts';
import type { Checkpoint } from './state/checkpoint.ts';
import { PartitionLedger, type PartitionEntry } from './state/ledger.ts';
import { cutCheckpoint, cutInto, cutsOf, withCut, type Cut, type Segment } from './state/cuts.ts';
import { StoreStateTable } from './state/table.ts';
import { DEFAULT_DRIFT_THRESHOLDS, type DriftReport, type DriftThresholds } from './findings/drift.ts';
import { anomalyFinding, driftFinding } from './findings/from-score.ts';
import { driftRow, findingRow } from './findings/rows.ts';
import { AgentsStage } from './stages/agents.ts';
import { EntitiesStage } from './stages/entities.ts';
import type { Fresh, Scored, Stage, StageItem } from './stages/stage.ts';
import { inSlices } from './time-slices.ts';
import { deadLetter, storeDeadLetter } from './dead-letter.ts';

export interface ProcessorOptions {
  bus: Bus;
  store: Store;
  topics: Config['topics'];
  /**
   * Which stage this processor runs (stages/stage.ts): `agents` consumes the events
   * topic; `entities` consumes the entities topic, where the agents stage re-keys
   * events by user, identity, model and tool for fleet-wide baselines.
   */
  stage?: 'agents' | 'entities';
  /**
   * Agents stage: publish each event to its fleet entities on the entities topic, which
   * must exist (default false here; the runtime follows AISPM_PROCESSOR_FLEET, true by default).
   */
  fleet?: boolean;
  /** Consumer group base name (consumerGroups): the agents stage's group adds `.agents`, the entities stage's `.entities`. */
  group?: string;
  /** Agents stage: the topic consumed, the attributed topic by default; the events topic when no traces stage runs. */
  topic?: string;
  log?: Logger;
  /** Baseline, scoring and drift settings (config.analytics); defaults otherwise. */
  analytics?: Partial<ScorerOptions>;
  /** Clock for validating event times (tests pin it). */
  now?: () => number;
  /** Where state is checkpointed; the store's processor_state table by default (embedded mode). */
  state?: StateBackend;
  /** A non-learning score at or above this becomes an anomaly finding (default 0.8). */
  findingThreshold?: number;
  /** Minutes of event time without an occurrence after which an open finding is resolved (default 60). */
  findingQuietMinutes?: number;
  /**
   * Agents stage: the detection engine (detectors/) run on each event with its
   * measurement; its findings join the anomaly findings. None when absent.
   */
  detection?: FindingRaiser;
  drift?: DriftThresholds;
  /** Most events handled (and checkpointed) per batch (default AISPM_PROCESSOR_BATCH's, 5000). */
  maxBatchSize?: number;
  /**
   * How long records may wait for a fuller batch (default 0). Every batch checkpoints
   * each key it changed, so where successive batches share keys (the entities stage:
   * hundreds of entities in every batch) fuller batches save most of that work.
   */
  lingerMs?: number;
  /**
   * How an insert that failed with a retryable error (network, timeout, memory, too
   * many parts: @aispm/store failureKind) is tried again before the batch fails and
   * the bus delivers it again (default DEFAULT_STORE_RETRY). Rows the store refuses
   * (cannot parse, out of range…) are never retried: they go to the dead-letter topic.
   */
  storeRetry?: StoreRetry;
  /**
   * Most partitions handled at once (default 4). While one
   * batch waits for the store and the brokers, the next partition's batch is scored.
   */
  concurrency?: number;
}

export interface ProcessorStats {
  /** Records taken off the consumed topic, valid or not. */
  received: number;
  /** Records published for the entities stage (agents stage with `fleet`). */
  forwarded: number;
  /** Events stored and scored. */
  stored: number;
  /** Replayed events whose effects were already durable, so they were not scored again. */
  skipped: number;
  /**
   * Records sent to the dead-letter topic, by reason code: undecodable or invalid
   * records, and rows the store refused for good (store_rejected).
   */
  deadLettered: Record<string, number>;
  /** Inserts tried again after a retryable store failure. */
  storeRetries: number;
  /** Entities with a baseline in this process. */
  entities: number;
  /**
   * Events scored without a baseline because their tenant already had
   * AISPM_MAX_ENTITIES_PER_TENANT entities tracked (stored and scored all the same).
   */
  untracked: number;
  /** Entities forgotten after AISPM_ENTITY_IDLE_DAYS of event time without an event. */
  evicted: number;
  /** Keys restored from checkpoints. */
  restored: number;
  findings: number;
}

/** Minutes of event time after which a finding with no further occurrence is resolved. */
export const DEFAULT_QUIET_MINUTES = 60;

/** The anomaly rule, then the detection engine's detectors (agents stage), as one raiser. */
function raiserOf(threshold: number, detection: FindingRaiser | undefined): FindingRaiser {
  return {
    raise(input, memos) {
      const found: Finding[] = [];
      const anomaly = anomalyFinding(input.event, input.view, input.score, threshold);
      if (anomaly) found.push(anomaly);
      if (detection) for (const f of detection.raise(input, memos)) found.push(f);
      return found;
    },
  };
}

/** How often, at most, the processor logs the events its tenants' entity caps left untracked. */
const UNTRACKED_LOG_EVERY_MS = 60_000;

/** An id per in-process bus: its offsets mean nothing to another process, whose bus starts again at 0. */
const memoryBusIds = new WeakMap<Bus, string>();
function logIdOf(bus: Bus, topic: string): string {
  // A durable bus names its log, the same after a restart: checkpointed offsets stay valid on it.
  if (bus.logId !== undefined) return `${bus.logId}:${topic}`;
  if (bus.kind === 'kafka') return `kafka:${topic}`;
  let id = memoryBusIds.get(bus);
  if (id === undefined) {
    id = crypto.randomUUID();
    memoryBusIds.set(bus, id);
  }
  return `memory:${id}:${topic}`;
}

/** A batch scored in memory: what it writes and publishes, and the checkpoints to save once that is durable. */
interface ScoredBatch {
  /** The scored events the stage owes outputs for (Stage.perEventOutputs). */
  scored: Scored[];
  /** Events scored but not kept in `scored`: they owe nothing, not even a finding. */
  unkept: number;
  drift: DriftReport[];
  /** Findings of the batch not owed by one event: drift, and those the sweep resolved. */
  batchFindings: Finding[];
  dead: OutgoingRecord[];
  skipped: number;
  /** The batch partition's changed keys with their state as of this batch, and sweep-changed keys of earlier batches. */
  checkpoints: Checkpoint[];
}

/** What a batch adds to the stats, taken before its checkpoint so the batch itself need not be kept. */
interface BatchCounts {
  stored: number;
  skipped: number;
  findings: number;
  /** The dead-lettered records' headers: code and reason. */
  dead: Record<string, string>[];
}

/**
 * A processor stage: its topic → decode and validate (dead-letter what fails,
 * with the reason) → score against per-entity baselines → store and publish what
 * the stage owes (stages/stage.ts: the agents stage stores events and scores,
 * publishes scores and re-keys events for the entities stage), findings and
 * drift → checkpoint state.
 *
 * State. Each partition's keys live in the scorer while this member owns the
 * partition. On the first batch of a partition it does not hold (start, rebalance,
 * or a gap in offsets showing another member had it meanwhile), the partition's
 * checkpoints are loaded and restored; partitions the group took away are dropped.
 * State is bounded (Scorer): at most AISPM_MAX_ENTITIES_PER_TENANT keys per tenant
 * (events of further ones are stored and scored without a baseline, counted in
 * stats().untracked and logged at most once a minute), and keys idle for
 * AISPM_ENTITY_IDLE_DAYS of event time are evicted: their checkpoint is replaced
 * by an empty one (a deletion: never restored) and the ledger forgets them.
 *
 * Checkpoint protocol, per batch, in this order:
 *   0. record the batch's cut, its first and last offset, in the state backend
 *      (state/cuts.ts; while 1 runs, finished before 3). After a restore, the
 *      records are cut at the recorded cuts, and a recorded cut is replayed whole
 *      without the probe (2): its inserts carry the first run's tokens and rows, so
 *      the engine drops what was written and writes what was not, materialized
 *      views included, whatever offsets the replayed fetch was cut at;
 *   1. skip events whose key's restored state already covers their offset;
 *      score the rest (in memory only);
 *   2. after a restore without recorded cuts (or in the part of a recorded cut a
 *      short fetch left), probe the store for rows of these events (see 3–4 below)
 *      and leave those out of the inserts (Stage.fresh);
 *   3. write store rows and publish scores, findings and dead letters (together):
 *      an insert failing with a retryable error is tried again (StoreRetry); rows
 *      the store refuses for good are found by splitting the insert and go to the
 *      dead-letter topic with the engine's error, and the batch goes on;
 *   4. checkpoint every key the batch changed, with the batch's last offset;
 *   5. return: the bus commits the offsets.
 * A crash
 *   - before 3 completes: nothing of the batch is durable except perhaps some
 *     rows; the replay scores it again from the same state, to the same scores;
 *     the probe (2) finds the rows already written and does not insert them again;
 *   - between 3 and 4: rows are durable, state is not: as above, the replay
 *     rebuilds the state by scoring again and the probe keeps rows single;
 *   - between 4 and 5: state and rows are durable, the offset is not: the replay
 *     skips every event at or below the checkpointed offset (1).
 * Rows are written in offset order, so the first batch after a restore whose
 * events are not all in the store ends the probing. Topic records may repeat in
 * the crash windows (at-least-once; consumers dedupe by event id or finding id).
 * A handler failure drops the partition's in-memory state, so the redelivered
 * batch starts again from the checkpoint rather than from half-applied state.
 * Scoring depends only on the state and the events, never on the wall clock, so
 * a replay scores the same.
 *
 * Concurrency. Batches of different partitions are handled concurrently (one
 * partition's batches never are). The scorer is shared, so each batch scores, takes
 * its drift reports and dirty keys, and snapshots its keys holding the scoring lock:
 * no other batch scores in between, so the checkpoint holds exactly the state its own
 * rows reflect. That step runs in time slices (time-slices.ts) so that the other
 * batches' I/O goes on meanwhile; only a restore or drop of another partition's keys
 * (own()) may run between its slices, and it never touches a partition with a batch in flight.
 * The drift sweep in that step may close windows of other partitions'
 * keys, whose reports this batch writes: those keys are checkpointed with their own
 * partition's next batch, and every checkpoint waits until the rows of all batches
 * scored before it are durable (or failed), so a checkpoint never gets ahead of the
 * rows of a state change it holds.
 */
export class Processor {
  private readonly stage: Stage;
  private readonly findingCodec = createFindingCodec();
  private readonly scorer: Scorer;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly state: StateBackend;
  private readonly ledger = new PartitionLedger();
  private readonly logId: string;
  private subscription: Subscription | null = null;
  /** Serializes scoring: one batch's scoring yields to the event loop (time-slices.ts), never to another batch's. */
  private scoring: Promise<unknown> = Promise.resolve();
  /** Serializes own(): restores and drops must not interleave across partitions. */
  private owning: Promise<unknown> = Promise.resolve();
  /** Settles once the rows of every batch scored so far are durable or failed (see Concurrency). */
  private rowsSettled: Promise<unknown> = Promise.resolve();
  /** Keys of each partition the drift sweep of another partition's batch changed, for its next checkpoint. */
  private readonly swept = new Map<number, Set<string>>();
  /** Keys of the batches in flight, by partition: the owner of a key not checkpointed yet. */
  private readonly inFlight = new Map<number, Set<string>>();
  private readonly counts = {
    received: 0,
    stored: 0,
    skipped: 0,
    restored: 0,
    findings: 0,
    storeRetries: 0,
    deadLettered: {} as Record<string, number>,
  };

  private readonly options: ProcessorOptions;
  private readonly resilience: ResilientInsertOptions;
  /** Untracked events per tenant at the last log of them, and when that was (wall clock: logging only). */
  private untrackedLogged: Record<string, number> = {};
  private untrackedLoggedAt = Number.NEGATIVE_INFINITY;
  private untrackedLoggedTotal = 0;

  constructor(options: ProcessorOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.scorer = new Scorer({
      ...options.analytics,
      now: this.now,
      findings: {
        raiser: raiserOf(this.findingThreshold(), options.stage === 'entities' ? undefined : options.detection),
        quietMinutes: options.findingQuietMinutes ?? DEFAULT_QUIET_MINUTES,
      },
    });
    this.log = options.log ?? silentLogger;
    const { bus, store, topics } = options;
    this.resilience = {
      retry: options.storeRetry ?? DEFAULT_STORE_RETRY,
      onRetry: (err, failures, delayMs) => {
        this.counts.storeRetries++;
        this.log.warn('store insert failed, trying again', {
          code: err.code,
          engineCode: err.engineCode,
          failures,
          delayMs,
        });
      },
    };
    this.stage =
      options.stage === 'entities'
        ? new EntitiesStage(topics)
        : new AgentsStage({
            bus,
            store,
            topics,
            topic: options.topic,
            log: this.log,
            fleet: options.fleet ?? false,
            resilience: this.resilience,
          });
    this.state = options.state ?? new StoreStateTable(store, this.stage.topic);
    this.logId = logIdOf(bus, this.stage.topic);
  }

  async start(): Promise<void> {
    const group = this.options.group ?? 'aispm-processor';
    this.subscription = await this.options.bus.subscribe({
      topic: this.stage.topic,
      group: this.options.stage === 'entities' ? consumerGroups(group).entities : consumerGroups(group).agents,
      handler: (batch) => this.handle(batch),
      maxBatchSize: this.options.maxBatchSize ?? CONFIG_KEYS.processorBatch.default,
      lingerMs: this.options.lingerMs ?? 0,
      concurrency: this.options.concurrency ?? 4,
    });
  }

  /** Finishes the batch in flight, commits it and leaves the group. */
  async stop(): Promise<void> {
    await this.subscription?.stop();
    this.subscription = null;
    await this.state.close();
  }

  stats(): ProcessorStats {
    return {
      ...this.counts,
      forwarded: this.stage.forwarded,
      deadLettered: { ...this.counts.deadLettered },
      entities: this.scorer.entities,
      untracked: this.scorer.untrackedEvents,
      evicted: this.scorer.evictions,
    };
  }

  private async handle(batch: Batch): Promise<void> {
    try {
      const owned = this.owning.then(() => this.own(batch));
      this.owning = owned.catch(() => undefined);
      await this.process(batch, await owned);
    } catch (err) {
      // The redelivery must start from the checkpoint, not from state the failed batch already advanced.
      this.forget([batch.partition]);
      throw err;
    } finally {
      this.inFlight.delete(batch.partition);
    }
  }

  private forget(partitions: number[]): void {
    this.scorer.drop(this.ledger.forget(partitions));
    for (const p of partitions) this.swept.delete(p);
  }

  /** Drops partitions the group moved elsewhere; restores this batch's partition when not held or stale. */
  private async own(batch: Batch): Promise<PartitionEntry> {
    const { partition } = batch;
    const owned = this.subscription?.assignment() ?? [];
    // Never a partition whose batch is scoring: its slices may be waiting for this one's (see Concurrency).
    const lost = this.ledger.notIn(owned).filter((p) => p !== partition && !this.inFlight.has(p));
    if (lost.length > 0) {
      this.forget(lost);
      this.log.info('state dropped for partitions moved elsewhere', { partitions: lost });
    }
    const first = batch.records[0];
    if (first && this.ledger.isStale(partition, BigInt(first.offset))) this.forget([partition]);
    const held = this.ledger.get(partition);
    if (held) return held;
    // Restore every owned partition not held yet in one read: a rebalance hands over several at once.
    const wanted = [...new Set([partition, ...owned.filter((p) => !this.ledger.has(p))])];
    await this.restore(wanted);
    return this.ledger.get(partition)!;
  }

  private async restore(partitions: number[]): Promise<void> {
    const started = Date.now();
    const loaded = this.state.loadWithCuts
      ? await this.state.loadWithCuts(partitions)
      : { checkpoints: await this.state.load(partitions), cuts: [] };
    const { checkpoints } = loaded;
    const applied = new Map(partitions.map((p) => [p, new Map<string, bigint>()]));
    const cuts = new Map<number, Cut[]>();
    // Offsets of another log's cuts say nothing about this one: its replays are probed instead.
    for (const c of loaded.cuts) if (c.log === this.logId) cuts.set(c.partition, cutsOf(c));
    for (const c of checkpoints) {
      const keys = applied.get(c.partition);
      // An empty snapshot deletes the key's state (evicted as idle, Scorer.evictIdle).
      if (!keys || c.snapshot.length === 0) continue;
      this.scorer.restore(c.key, c.snapshot);
      // Offsets of another log (an in-process bus of an earlier run) say nothing about this one.
      keys.set(c.key, c.log === this.logId ? BigInt(c.offset) : -1n);
    }
    for (const p of partitions) this.ledger.restored(p, applied.get(p)!, cuts.get(p));
    this.counts.restored += checkpoints.length;
    this.log.info('state restored', { partitions, keys: checkpoints.length, ms: Date.now() - started });
  }

  /** The batch cut at the partition's recorded cuts (state/cuts.ts), each part handled as a batch, in order. */
  private async process(batch: Batch, entry: PartitionEntry): Promise<void> {
    for (const segment of cutInto(batch.records, entry.cuts)) await this.processCut(batch, segment, entry);
  }

  private async processCut(whole: Batch, segment: Segment, entry: PartitionEntry): Promise<void> {
    const batch: Batch = { ...whole, records: segment.records };
    const last = batch.records.at(-1);
    if (!last) return;
    if (segment.replay || segment.partial)
      this.log.info(
        segment.replay ? 'replaying a recorded cut' : 'replaying part of a recorded cut, probing the store',
        {
          stage: this.options.stage ?? 'agents',
          partition: batch.partition,
          first: batch.records[0]!.offset,
          last: last.offset,
        },
      );
    // Recorded while the batch is scored; awaited before its first insert.
    const recorded = segment.replay ? Promise.resolve() : this.recordCut(batch, entry);
    recorded.catch(() => undefined);
    const probe = !segment.replay && (segment.partial || entry.probing);
    const { checkpoints, earlier, written } = await this.scoreAndWrite(batch, entry, last.offset, recorded, probe);
    const counts = await written;
    await earlier;
    await this.checkpoint(checkpoints, last.offset, entry);
    entry.next = BigInt(last.offset) + 1n;
    this.count(batch, counts);
  }

  /** Durably records the batch's cut before any of its rows is inserted (state/cuts.ts), where the backend can. */
  private async recordCut(batch: Batch, entry: PartitionEntry): Promise<void> {
    if (!this.state.saveCuts) return;
    const cut = { first: batch.records[0]!.offset, last: batch.records.at(-1)!.offset };
    const cuts = withCut(entry.cuts, cut);
    await this.state.saveCuts(cutCheckpoint(this.logId, batch.partition, cuts));
    entry.cuts = cuts;
  }

  /**
   * Steps 1–3. The scored batch is referenced from here only, not from process(), so
   * its events and scores can be collected once written rather than live on through
   * the checkpoint's wait.
   */
  private async scoreAndWrite(
    batch: Batch,
    entry: PartitionEntry,
    offset: string,
    recorded: Promise<void>,
    probe: boolean,
  ) {
    const turn = this.scoring.then(() => this.scoreInTurn(batch, entry, offset));
    this.scoring = turn.catch(() => undefined);
    const { scored, earlier, settle } = await turn;
    const range = `${batch.records[0]?.offset ?? ''}-${offset}`;
    const written = recorded
      .then(() => this.write(scored, batch.partition, entry, range, probe))
      .then(({ fresh, findings, refused }): BatchCounts => ({
        stored: fresh.scores.length + scored.unkept,
        skipped: scored.skipped,
        findings: findings.length,
        dead: [...scored.dead, ...refused].map((record) => record.headers ?? {}),
      }))
      .finally(settle);
    return { checkpoints: scored.checkpoints, earlier, written };
  }

  /** Scores the batch holding the scoring lock (see Concurrency), and joins the rows chain before letting go. */
  private async scoreInTurn(batch: Batch, entry: PartitionEntry, offset: string) {
    const scored = await this.score(batch, entry, offset);
    return { scored, ...this.queueRows() };
  }

  /** Joins the rows chain (see Concurrency): `earlier` settles with the rows of every batch scored before. */
  private queueRows(): { earlier: Promise<unknown>; settle: () => void } {
    const earlier = this.rowsSettled;
    const settled = Promise.withResolvers<void>();
    this.rowsSettled = Promise.all([earlier, settled.promise]);
    return { earlier, settle: () => settled.resolve() };
  }

  /**
   * Steps 2–3 of the checkpoint protocol: probe after a restore (`probe`), then store
   * rows and publish, together; then the dead letters of rows the store refused.
   */
  private async write(
    batch: ScoredBatch,
    partition: number,
    entry: PartitionEntry,
    range: string,
    probe: boolean,
  ): Promise<{ fresh: Fresh; findings: Finding[]; refused: OutgoingRecord[] }> {
    const { scored, drift, dead, batchFindings } = batch;
    const fresh = await this.stage.fresh(scored, probe);
    // Rows are written in offset order: past the first event not stored, none of the later ones can be.
    if (probe && fresh.scores.length > 0) entry.probing = false;
    const findings = this.findings(fresh.scores, batchFindings);
    const [emitted, rows] = await Promise.all([
      this.stage.emit(fresh, scored, partition),
      this.writeRows(findings, drift, batchFindings, partition, [
        this.options.stage ?? 'agents',
        this.stage.topic,
        String(partition),
        range,
      ]),
      this.publish(findings, dead),
    ]);
    const refused = [...emitted, ...rows];
    if (refused.length > 0) await this.options.bus.publish(this.options.topics.deadLetter, refused);
    return { fresh, findings, refused };
  }

  private count(batch: Batch, counts: BatchCounts): void {
    this.counts.received += batch.records.length;
    this.counts.stored += counts.stored;
    this.counts.skipped += counts.skipped;
    this.counts.findings += counts.findings;
    this.logUntracked();
    for (const headers of counts.dead) {
      const code = headers['aispm.dlq.code'] ?? 'unknown';
      this.counts.deadLettered[code] = (this.counts.deadLettered[code] ?? 0) + 1;
      this.log.warn('record dead-lettered', {
        code,
        reason: headers['aispm.dlq.reason'],
        source: headers['aispm.dlq.source'],
        ...(headers['aispm.dlq.table'] === undefined ? {} : { table: headers['aispm.dlq.table'] }),
      });
    }
  }

  /** At most once a minute, per tenant: events scored untracked since the last such line (Scorer's cap). */
  private logUntracked(): void {
    if (this.scorer.untrackedEvents === this.untrackedLoggedTotal) return;
    if (Date.now() - this.untrackedLoggedAt < UNTRACKED_LOG_EVERY_MS) return;
    this.untrackedLoggedAt = Date.now();
    this.untrackedLoggedTotal = this.scorer.untrackedEvents;
    const now = this.scorer.untracked();
    for (const [tenant, events] of Object.entries(now)) {
      const since = events - (this.untrackedLogged[tenant] ?? 0);
      if (since === 0) continue;
      this.log.warn('tenant at its entity cap: events of new entities scored without a baseline', {
        stage: this.options.stage ?? 'agents',
        tenant,
        events: since,
        tracked: this.scorer.trackedOf(tenant),
        cap: this.scorer.maxEntitiesPerTenant,
      });
    }
    this.untrackedLogged = now;
  }

  /**
   * Decodes and scores the batch, and takes its drift reports, dirty keys and their
   * snapshots, in time slices under the scoring lock (see Concurrency in the class
   * comment). If scoring throws, the dirty keys are taken anyway, so no other batch
   * checkpoints them.
   */
  private async score(batch: Batch, entry: PartitionEntry, offset: string): Promise<ScoredBatch> {
    const { partition } = batch;
    const scored: Scored[] = [];
    const dead: OutgoingRecord[] = [];
    const keys = new Set<string>();
    this.inFlight.set(partition, keys);
    const nowMs = this.now();
    const keepAll = this.stage.perEventOutputs;
    let skipped = 0;
    let unkept = 0;
    try {
      await inSlices(batch.records, (record) => {
        const offset = BigInt(record.offset);
        for (const item of this.decode(record, nowMs, dead)) {
          const { key } = item.view;
          const applied =
            PartitionLedger.alreadyApplied(entry, key, offset) ||
            (item.source !== undefined && this.scorer.folded(key, item.source));
          if (applied) {
            skipped++;
            continue;
          }
          keys.add(key);
          const findings: Finding[] = [];
          const score = this.scorer.score(item.event, item.view, item.source, findings);
          if (keepAll || findings.length > 0) scored.push({ ...item, score, findings, offset: record.offset });
          else unkept++;
        }
      });
      const drift = this.scorer.takeDriftReports();
      const batchFindings = this.driftFindings(drift);
      for (const f of this.scorer.takeResolved()) batchFindings.push(f);
      const checkpoints = await this.snapshots(partition, keys, offset);
      return { scored, unkept, drift, batchFindings, dead, skipped, checkpoints };
    } catch (err) {
      this.scorer.takeDirty();
      throw err;
    }
  }

  /** Checkpoints of this partition's dirty and swept keys; other partitions' dirty keys are set aside for them. */
  private async snapshots(partition: number, keys: Set<string>, offset: string): Promise<Checkpoint[]> {
    const mine = this.swept.get(partition) ?? new Set<string>();
    this.swept.delete(partition);
    for (const key of this.scorer.takeDirty()) {
      const owner = keys.has(key) ? partition : this.ownerOf(key);
      if (owner === partition) mine.add(key);
      else if (owner !== undefined) this.swept.set(owner, (this.swept.get(owner) ?? new Set()).add(key));
    }
    const checkpoints: Checkpoint[] = [];
    await inSlices(mine, (key) => {
      const snapshot = this.scorer.snapshot(key);
      if (snapshot) checkpoints.push({ key, log: this.logId, partition, offset, snapshot });
    });
    return checkpoints;
  }

  /** The partition whose state holds this key: checkpointed there, or scored by a batch in flight. */
  private ownerOf(key: string): number | undefined {
    const held = this.ledger.partitionOf(key);
    if (held !== undefined) return held;
    for (const [partition, keys] of this.inFlight) if (keys.has(key)) return partition;
    return undefined;
  }

  /** The record's events, or none when it is dead-lettered (with the reason in its headers). */
  private decode(record: BusRecord, nowMs: number, dead: OutgoingRecord[]): StageItem[] {
    try {
      return this.stage.decode(record, nowMs);
    } catch (err) {
      if (!(err instanceof InvalidRecordError)) throw err;
      dead.push(deadLetter(record, err));
      return [];
    }
  }

  /**
   * The batch's finding records: occurrences of the events that still owe their
   * outputs (after a restore, not those already stored), merged per id, then the
   * batch's drift findings and resolutions.
   */
  private findings(scores: Scored[], batchFindings: Finding[]): Finding[] {
    const found: Finding[] = [];
    for (const { findings } of scores) for (const f of findings) found.push(f);
    const open = dedupFindings([...found, ...batchFindings.filter((f) => f.status !== 'resolved')]);
    return [...open, ...batchFindings.filter((f) => f.status === 'resolved')];
  }

  /** Drift findings of the batch's closed windows, tracked on their keys' lifecycle. */
  private driftFindings(drift: DriftReport[]): Finding[] {
    const thresholds = this.options.drift ?? DEFAULT_DRIFT_THRESHOLDS;
    const found: Finding[] = [];
    for (const report of drift) {
      const finding = driftFinding(report, thresholds);
      if (!finding) continue;
      this.scorer.trackFinding(report.entity, finding);
      found.push(finding);
    }
    return found;
  }

  private findingThreshold(): number {
    return this.options.findingThreshold ?? 0.8;
  }

  /**
   * Findings and drift reports, each insert with a deduplication token: where the batch
   * came from (stage, topic, partition, offset range) and a digest of the rows. A replay
   * of the batch (a crash before its checkpoint) makes the same rows from the same state
   * and the engine drops them (issue 22). The findings of the batch's events and those
   * of the batch as a whole (drift, resolutions) go in two inserts: after a restore the
   * probe (Stage.fresh) leaves out the events already stored and their findings, so the
   * replay's event findings differ from the first run's, while its batch findings are
   * the same and must meet the same token.
   */
  private async writeRows(
    findings: Finding[],
    drift: DriftReport[],
    batchFindings: Finding[],
    partition: number,
    source: string[],
  ): Promise<OutgoingRecord[]> {
    const { store } = this.options;
    const ofBatch = new Set(batchFindings.map((f) => f.id));
    const origin = { topic: this.stage.topic, partition };
    // The batch's own rows are named by their content alone: a drift sweep or a quiet-period
    // resolution may come round again in another partition's batch after a replay.
    const insert = async <T>(
      table: string,
      part: 'events' | 'batch',
      items: T[],
      row: (item: T) => Row,
      dead: (item: T) => { key: string; value: Buffer },
    ): Promise<OutgoingRecord[]> => {
      const rows = items.map((item) => ({ item, row: row(item) }));
      const token = dedupToken(
        part === 'events' ? [...source, table, part] : [source[0]!, source[1]!, table, part],
        rows.map((r) => JSON.stringify(r.row)),
      );
      const refused = await insertResilient(
        rows,
        token,
        (some, dedupToken) =>
          store.insert(
            table,
            some.map((r) => r.row),
            { dedupToken },
          ),
        this.resilience,
      );
      return refused.map(({ item, error }) => {
        const { key, value } = dead(item.item);
        return storeDeadLetter(key, value, table, error, origin);
      });
    };
    // A finding as published on the findings topic; a drift report as its row's JSON (it has no record).
    const finding = (f: Finding) => ({ key: f.asset, value: this.findingCodec.encode(f) });
    const report = (r: DriftReport) => ({ key: r.entity, value: Buffer.from(JSON.stringify(driftRow(r))) });
    const refused = await Promise.all([
      insert(
        'findings',
        'events',
        findings.filter((f) => !ofBatch.has(f.id)),
        findingRow,
        finding,
      ),
      insert(
        'findings',
        'batch',
        findings.filter((f) => ofBatch.has(f.id)),
        findingRow,
        finding,
      ),
      insert('drift_reports', 'batch', drift, driftRow, report),
    ]);
    return refused.flat();
  }

  private async publish(findings: Finding[], dead: OutgoingRecord[]): Promise<void> {
    const { bus, topics } = this.options;
    const sends: Promise<void>[] = [];
    if (findings.length > 0)
      sends.push(
        bus.publish(
          topics.findings,
          findings.map((f) => ({ key: f.asset, value: this.findingCodec.encode(f) })),
        ),
      );
    if (dead.length > 0) sends.push(bus.publish(topics.deadLetter, dead));
    await Promise.all(sends);
  }

  private async checkpoint(checkpoints: Checkpoint[], offset: string, entry: PartitionEntry): Promise<void> {
    await this.state.save(checkpoints);
    const at = BigInt(offset);
    for (const { key, snapshot } of checkpoints) {
      // A deleted checkpoint (an idle key evicted): the ledger forgets the key too, or it would grow for ever.
      if (snapshot.length === 0) entry.applied.delete(key);
      else entry.applied.set(key, at);
    }
  }
}
