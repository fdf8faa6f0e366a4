import {
  InvalidRecordError,
  RECORD_HEADER,
  SPAN_LINK_RECORD,
  createEventCodec,
  createSpanLinkCodec,
  eventKey,
  invalidReason,
  silentLogger,
  traceKey,
  withAttribution,
  type AiEvent,
  type Config,
  type Logger,
  type OutgoingRecord,
} from '@aispm/core';
import type { Batch, Bus, BusRecord, Subscription } from '@aispm/bus';
import type { StateBackend } from '../state/backend.ts';
import type { Checkpoint } from '../state/checkpoint.ts';
import { deadLetter } from '../dead-letter.ts';
import { tenantReason } from '../stages/agents.ts';
import { TraceAssembler, type AssemblerCounts, type Resolved } from './assembler.ts';
import { decodeTraceSnapshot, encodeTraceSnapshot } from './snapshot.ts';
import { EXPIRY_SLOT, SLOTS, SOURCE_PARTITION, SOURCE_SEQ, TICK_RECORD, sourceSeq } from './source.ts';

export interface TraceStageOptions {
  bus: Bus;
  topics: Config['topics'];
  /** Where waiting traces are checkpointed. */
  state: StateBackend;
  group: string;
  log?: Logger;
  /** How long an event without its own agent waits for its agent ancestor (stream time). */
  waitMs: number;
  maxSpansPerTrace: number;
  /** Most traces held per partition; a tenant may hold a quarter of them. */
  maxTraces: number;
  maxBatchSize: number;
  concurrency: number;
  /** How often idle partitions with waiting events get a tick (wall clock; default 1000 ms). */
  tickMs?: number;
}

export interface TraceStageStats extends AssemblerCounts {
  received: number;
  forwarded: number;
  /** Events waiting for their agent, and traces held, in this process. */
  waiting: number;
  traces: number;
  deadLettered: Record<string, number>;
}

interface PartitionState {
  assembler: TraceAssembler;
  /** Trace key → offset its checkpoint covers: replayed records at or below it are in the restored state. */
  applied: Map<string, bigint>;
  /** Wall clock of the last batch: a partition quiet for a tick with events waiting gets a tick record. */
  lastBatchAt: number;
}

const ZERO_COUNTS = (): AssemblerCounts => ({
  own: 0,
  inherited: 0,
  none: 0,
  merged: 0,
  cut: { timeout: 0, trace_too_large: 0, evicted: 0, cycle: 0 },
});

function addCounts(into: AssemblerCounts, from: AssemblerCounts): void {
  into.own += from.own;
  into.inherited += from.inherited;
  into.none += from.none;
  into.merged += from.merged;
  for (const reason of Object.keys(into.cut) as (keyof AssemblerCounts['cut'])[]) into.cut[reason] += from.cut[reason];
}

/**
 * The traces stage: the events topic, keyed by tenant and trace → trace assembly
 * (assembler.ts) → the attributed topic, keyed by tenant, app and agent, which the
 * agents stage consumes.
 *
 * Time is each partition's stream time: the greatest append timestamp of its
 * records. A partition that goes quiet while events wait gets a tick record
 * (header aispm.record=tick) on it, so its stream time moves on through the log
 * and a replay decides exactly as the first run did.
 *
 * Per batch: decode and assemble (records a trace's checkpoint already covers are
 * skipped), publish what leaves and the dead letters, checkpoint every trace whose
 * waiting events changed (none waiting: the checkpoint is deleted), then return,
 * and the bus commits. Each record sent on carries its source position — the
 * events partition, and a sequence number from the offset of the record whose
 * handling let it go and its rank there — which only grows, so a replay after a
 * crash sends the same records with the same numbers and the agents stage folds
 * each once (Scorer.folded).
 */
export class TraceStage {
  private readonly options: TraceStageOptions;
  private readonly log: Logger;
  private readonly codec = createEventCodec();
  private readonly linkCodec = createSpanLinkCodec();
  private readonly partitions = new Map<number, PartitionState>();
  /** Each decoded event's record: an event sent on unchanged (own, or none) is its record with the attribution set. */
  private readonly recordOf = new WeakMap<AiEvent, Buffer>();
  private subscription: Subscription | null = null;
  private ticker: NodeJS.Timeout | null = null;
  /** Counts of partitions no longer held, so stats do not go down on a rebalance. */
  private readonly gone = ZERO_COUNTS();
  private readonly counts = { received: 0, forwarded: 0, deadLettered: {} as Record<string, number> };

  constructor(options: TraceStageOptions) {
    this.options = options;
    this.log = options.log ?? silentLogger;
  }

  async start(): Promise<void> {
    this.subscription = await this.options.bus.subscribe({
      topic: this.options.topics.events,
      group: this.options.group,
      handler: (batch) => this.handle(batch),
      maxBatchSize: this.options.maxBatchSize,
      concurrency: this.options.concurrency,
    });
    const tickMs = this.options.tickMs ?? 1000;
    this.ticker = setInterval(() => void this.tick(tickMs), tickMs);
    this.ticker.unref();
  }

  async stop(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    await this.subscription?.stop();
    this.subscription = null;
    await this.options.state.close();
  }

  stats(): TraceStageStats {
    const total = ZERO_COUNTS();
    let waiting = 0;
    let traces = 0;
    for (const counts of [this.gone, ...[...this.partitions.values()].map((p) => p.assembler.counts)])
      addCounts(total, counts);
    for (const { assembler } of this.partitions.values()) {
      waiting += assembler.waitingEvents;
      traces += assembler.heldTraces;
    }
    return { ...total, ...this.counts, deadLettered: { ...this.counts.deadLettered }, waiting, traces };
  }

  private async handle(batch: Batch): Promise<void> {
    const state = await this.own(batch.partition);
    try {
      await this.process(batch, state);
    } catch (err) {
      // The redelivery starts again from the checkpoints, not from what this batch half did.
      this.release(batch.partition);
      throw err;
    }
  }

  private async process(batch: Batch, state: PartitionState): Promise<void> {
    const { partition } = batch;
    const out: OutgoingRecord[] = [];
    const dead: OutgoingRecord[] = [];
    const nowMs = Date.now();
    for (const record of batch.records) {
      const offset = BigInt(record.offset);
      // Stream time first: the record's span arrives at its time, and what waited too long by then leaves.
      const expired = state.assembler.advance(record.timestamp, SLOTS - EXPIRY_SLOT);
      const left = this.assemble(record, offset, state, nowMs, dead);
      let slot = 0;
      for (const resolved of left) out.push(this.forward(resolved, partition, offset, slot++));
      slot = EXPIRY_SLOT;
      for (const resolved of expired) out.push(this.forward(resolved, partition, offset, slot++));
    }
    await Promise.all([
      this.options.bus.publish(this.options.topics.attributed, out),
      dead.length > 0 ? this.options.bus.publish(this.options.topics.deadLetter, dead) : undefined,
    ]);
    const last = batch.records.at(-1)!.offset;
    await this.checkpoint(partition, state, last);
    state.lastBatchAt = Date.now();
    this.counts.received += batch.records.length;
    this.counts.forwarded += out.length;
    for (const record of dead) {
      const code = record.headers?.['aispm.dlq.code'] ?? 'unknown';
      this.counts.deadLettered[code] = (this.counts.deadLettered[code] ?? 0) + 1;
      this.log.warn('record dead-lettered', { code, reason: record.headers?.['aispm.dlq.reason'] });
    }
  }

  /** What the record lets go: none for a tick, a record already in the restored state, or a dead letter. */
  private assemble(
    record: BusRecord,
    offset: bigint,
    state: PartitionState,
    nowMs: number,
    dead: OutgoingRecord[],
  ): Resolved[] {
    const kind = record.headers[RECORD_HEADER];
    if (kind === TICK_RECORD) return [];
    const applied = state.applied.get(record.key);
    if (applied !== undefined && offset <= applied) return [];
    try {
      if (kind === SPAN_LINK_RECORD) {
        const link = this.linkCodec.decode(record.value);
        this.checkKey(record, link);
        const agent = link.agent
          ? {
              agent: link.agent,
              user: link.user ?? null,
              conversation_id: link.conversation_id ?? null,
              identity: link.identity ?? null,
              scopes: link.scopes ?? [],
            }
          : undefined;
        return state.assembler.addLink(record.key, link.tenant, link.span_id, link.parent_span_id, agent);
      }
      const event = this.codec.decode(record.value);
      const reason = invalidReason(event, nowMs) ?? tenantReason(event.tenant);
      if (reason) throw new InvalidRecordError('invalid_event', reason);
      this.checkKey(record, event);
      this.recordOf.set(event, record.value);
      return state.assembler.addEvent(record.key, event);
    } catch (err) {
      if (!(err instanceof InvalidRecordError)) throw err;
      dead.push(deadLetter(record, err));
      return [];
    }
  }

  /** A trace's spans must share its key, or one tenant's record could join another's trace. */
  private checkKey(record: BusRecord, span: { tenant: string; trace_id: string }): void {
    const reason = tenantReason(span.tenant);
    if (reason) throw new InvalidRecordError('invalid_event', reason);
    if (record.key !== traceKey(span))
      throw new InvalidRecordError(
        'trace_key_mismatch',
        `record key ${record.key} is not its trace's (${traceKey(span)}): publish events keyed by traceKey`,
      );
  }

  private forward(resolved: Resolved, partition: number, offset: bigint, slot: number): OutgoingRecord {
    const { event, attribution } = resolved;
    const record = this.recordOf.get(event);
    const value =
      (record && withAttribution(this.codec, record, attribution)) ?? this.codec.encode({ ...event, attribution });
    return {
      key: eventKey(event),
      value,
      headers: { [SOURCE_PARTITION]: String(partition), [SOURCE_SEQ]: String(sourceSeq(offset, slot)) },
    };
  }

  /** Checkpoints the traces whose waiting events changed; a trace with none left has its checkpoint deleted. */
  private async checkpoint(partition: number, state: PartitionState, offset: string): Promise<void> {
    const keys = state.assembler.takeDirty();
    if (keys.length === 0) return;
    const checkpoints: Checkpoint[] = keys.map((key) => {
      const snapshot = state.assembler.snapshotOf(key);
      return {
        key,
        log: 'traces',
        partition,
        offset,
        snapshot: snapshot ? encodeTraceSnapshot(snapshot, this.codec) : Buffer.alloc(0),
      };
    });
    await this.options.state.save(checkpoints);
    const at = BigInt(offset);
    for (const { key, snapshot } of checkpoints) {
      if (snapshot.length === 0) state.applied.delete(key);
      else state.applied.set(key, at);
    }
  }

  /** The partition's state: held, or restored from its checkpoints; partitions moved elsewhere are let go. */
  private async own(partition: number): Promise<PartitionState> {
    const owned = this.subscription?.assignment() ?? [];
    for (const p of this.partitions.keys()) if (p !== partition && !owned.includes(p)) this.release(p);
    const held = this.partitions.get(partition);
    if (held) return held;
    const started = Date.now();
    const assembler = new TraceAssembler({
      waitMs: this.options.waitMs,
      maxSpansPerTrace: this.options.maxSpansPerTrace,
      maxTraces: this.options.maxTraces,
      maxTracesPerTenant: Math.max(1, Math.floor(this.options.maxTraces / 4)),
    });
    const applied = new Map<string, bigint>();
    const checkpoints = await this.options.state.load([partition]);
    for (const c of checkpoints) {
      if (c.snapshot.length === 0) continue;
      assembler.restore(c.key, decodeTraceSnapshot(c.snapshot, this.codec));
      applied.set(c.key, BigInt(c.offset));
    }
    assembler.takeDirty();
    const state = { assembler, applied, lastBatchAt: Date.now() };
    this.partitions.set(partition, state);
    this.log.info('traces restored', { partition, traces: checkpoints.length, ms: Date.now() - started });
    return state;
  }

  private release(partition: number): void {
    const state = this.partitions.get(partition);
    if (!state) return;
    addCounts(this.gone, state.assembler.counts);
    this.partitions.delete(partition);
  }

  /**
   * A tick record on each quiet partition whose events wait, so its stream time moves on;
   * and on each assigned partition not restored yet, whose checkpoints may hold waiting
   * events (after a restart or a rebalance no record may come to restore them otherwise).
   */
  private async tick(tickMs: number): Promise<void> {
    const quiet = [...this.partitions]
      .filter(([, state]) => state.assembler.waitingEvents > 0 && Date.now() - state.lastBatchAt >= tickMs)
      .map(([partition]) => partition);
    const unrestored = (this.subscription?.assignment() ?? []).filter((p) => !this.partitions.has(p));
    const due = [...quiet, ...unrestored];
    if (due.length === 0) return;
    try {
      await this.options.bus.publish(
        this.options.topics.events,
        due.map((partition) => ({
          key: '~tick',
          value: Buffer.alloc(0),
          partition,
          headers: { [RECORD_HEADER]: TICK_RECORD },
        })),
      );
    } catch (err) {
      this.log.warn('tick not published; waiting events leave with the next record instead', { err });
    }
  }
}
