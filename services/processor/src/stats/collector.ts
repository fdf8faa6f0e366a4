/**
 * What the pipeline's stages did, per stage and partition: the figures of the
 * `pipeline_stats` table (schemas/clickhouse/015_pipeline_stats.sql) and of the
 * processor's /metrics. Fed by the metered bus (metered-bus.ts), which sees every
 * batch a stage handles and every record it publishes, and by the stages' own
 * counters (attribution, merges, outputs, drops), read as running totals.
 *
 * Bounded: one entry per stage and partition of its topic.
 */

/** Counts a stage keeps itself, as running totals (read by a CounterSource). */
export const STAGE_COUNTERS = ['records_out', 'drops', 'own', 'inherited', 'unattributed', 'merged'] as const;
export type StageCounter = (typeof STAGE_COUNTERS)[number];
export type StageCounters = Partial<Record<StageCounter, number>>;

/** Running totals of some of a stage's counters; one source may serve several stages (it is credited once). */
export interface CounterSource {
  read(): StageCounters;
}

export interface StageSpec {
  /** traces, agents, entities, genai-logs, genai-metrics. */
  stage: string;
  topic: string;
  group: string;
  sources?: CounterSource[];
  /** Records on the topic the group has not committed, or null when the bus cannot tell. */
  lag?: () => number | null;
  /** The same per partition, where it can be told (Kafka's brokers); null when not. */
  partitionLag?: () => ReadonlyMap<number, number> | null;
}

/** Where a batch's work is credited. */
export interface BatchContext {
  stage: StageSpec;
  partition: number;
}

export interface PartitionCounts extends Record<StageCounter, number> {
  records_in: number;
  published: number;
  dead_letters: number;
  batches: number;
  batch_ms_sum: number;
  batch_ms_max: number;
}

/** One row of the pipeline_stats table. */
export interface StatsRow extends PartitionCounts {
  time: number;
  interval_s: number;
  instance: string;
  stage: string;
  topic: string;
  partition: number;
  lag: number | null;
}

/** The partition of a stage's row for what is not per partition (the topic's lag, uncredited counts). */
export const WHOLE_STAGE = -1;

const zero = (): PartitionCounts => ({
  records_in: 0,
  published: 0,
  dead_letters: 0,
  batches: 0,
  batch_ms_sum: 0,
  batch_ms_max: 0,
  records_out: 0,
  drops: 0,
  own: 0,
  inherited: 0,
  unattributed: 0,
  merged: 0,
});

function add(into: PartitionCounts, from: Partial<PartitionCounts>): void {
  for (const [k, v] of Object.entries(from) as [keyof PartitionCounts, number][]) {
    into[k] = k === 'batch_ms_max' ? Math.max(into[k], v) : into[k] + v;
  }
}

/** The stage's lag, or null when the bus cannot tell it (or fails to). */
export function lagOf(spec: StageSpec): number | null {
  try {
    return spec.lag?.() ?? null;
  } catch {
    return null;
  }
}

/** The stage's lag per partition, or null when it cannot be told (or fails to be). */
export function partitionLagOf(spec: StageSpec): ReadonlyMap<number, number> | null {
  try {
    return spec.partitionLag?.() ?? null;
  } catch {
    return null;
  }
}

const isEmpty = (c: PartitionCounts): boolean => Object.values(c).every((v) => v === 0);

export interface PipelineStatsOptions {
  stages: StageSpec[];
  /** The dead-letter topic: records published there count as dead letters, not as published. */
  deadLetterTopic: string;
  /** Changelog topics (distributed mode): a stage's state checkpoints, not its output; not counted. */
  stateTopics?: readonly string[];
  /** Names this process on its rows (the runtime gives defaultInstance(): host and pid). */
  instance: string;
  now?: () => number;
}

export class PipelineStats {
  readonly instance: string;
  readonly stages: readonly StageSpec[];
  readonly #deadLetterTopic: string;
  readonly #stateTopics: ReadonlySet<string>;
  readonly #now: () => number;
  /** stage → partition → counts of the interval, and since start. */
  readonly #interval = new Map<string, Map<number, PartitionCounts>>();
  readonly #total = new Map<string, Map<number, PartitionCounts>>();
  /** Each source's totals when last credited. */
  readonly #seen = new Map<CounterSource, StageCounters>();
  #since: number;

  constructor(options: PipelineStatsOptions) {
    this.instance = options.instance;
    this.stages = options.stages;
    this.#deadLetterTopic = options.deadLetterTopic;
    this.#stateTopics = new Set(options.stateTopics ?? []);
    this.#now = options.now ?? Date.now;
    this.#since = this.#now();
    for (const source of new Set(this.stages.flatMap((s) => s.sources ?? []))) this.#seen.set(source, source.read());
  }

  /** The stage consuming `topic` as `group`, if it is one of ours. */
  stageOf(topic: string, group: string): StageSpec | undefined {
    return this.stages.find((s) => s.topic === topic && s.group === group);
  }

  /** Records published while handling a batch: dead letters or output. */
  published(ctx: BatchContext, topic: string, records: number): void {
    if (this.#stateTopics.has(topic)) return;
    this.#add(
      ctx.stage,
      ctx.partition,
      topic === this.#deadLetterTopic ? { dead_letters: records } : { published: records },
    );
    this.credit(ctx);
  }

  /** A batch handled and committed: its records and its time in the handler. */
  batch(ctx: BatchContext, records: number, ms: number): void {
    this.#add(ctx.stage, ctx.partition, { records_in: records, batches: 1, batch_ms_sum: ms, batch_ms_max: ms });
    this.credit(ctx);
  }

  /**
   * Credits what the stage's counter sources counted since they were last read to the
   * batch being handled. A stage counts a batch's work in code that runs without a
   * pause up to its next publish or its end, so this is that batch's (see the table's
   * comment for the exceptions).
   */
  credit(ctx: BatchContext): void {
    for (const source of ctx.stage.sources ?? []) this.#add(ctx.stage, ctx.partition, this.#delta(source));
  }

  /** Counts since start, per stage and partition (for /metrics). */
  totals(): { stage: string; partition: number; counts: PartitionCounts }[] {
    this.#creditRest();
    const out: { stage: string; partition: number; counts: PartitionCounts }[] = [];
    for (const [stage, partitions] of this.#total)
      for (const [partition, counts] of partitions) out.push({ stage, partition, counts: { ...counts } });
    return out;
  }

  /**
   * The rows of the interval since the last take, and a new interval begins: one per
   * stage and partition with work, and one per stage for the whole stage (its lag).
   */
  take(): StatsRow[] {
    this.#creditRest();
    const now = this.#now();
    const interval_s = Math.max(0, (now - this.#since) / 1000);
    this.#since = now;
    const rows: StatsRow[] = [];
    for (const spec of this.stages) {
      const partitions = this.#interval.get(spec.stage) ?? new Map<number, PartitionCounts>();
      this.#interval.delete(spec.stage);
      const whole = partitions.get(WHOLE_STAGE) ?? zero();
      partitions.delete(WHOLE_STAGE);
      const base = { time: now, interval_s, instance: this.instance, stage: spec.stage, topic: spec.topic };
      rows.push({ ...base, partition: WHOLE_STAGE, lag: lagOf(spec), ...whole });
      // Partitions with work, and (where the lag per partition is known) every partition, idle ones included.
      const lags = partitionLagOf(spec);
      const all = new Set([...partitions.keys(), ...(lags?.keys() ?? [])]);
      for (const partition of [...all].sort((a, b) => a - b)) {
        const counts = partitions.get(partition) ?? zero();
        const lag = lags?.get(partition) ?? null;
        if (lag !== null || !isEmpty(counts)) rows.push({ ...base, partition, lag, ...counts });
      }
    }
    return rows;
  }

  /** Counts no batch was there to take (a change outside any batch): on the whole stage's row, so totals hold. */
  #creditRest(): void {
    for (const spec of this.stages)
      for (const source of spec.sources ?? []) this.#add(spec, WHOLE_STAGE, this.#delta(source));
  }

  #delta(source: CounterSource): StageCounters {
    const now = source.read();
    const before = this.#seen.get(source) ?? {};
    this.#seen.set(source, now);
    const delta: StageCounters = {};
    for (const k of STAGE_COUNTERS) {
      // A counter that went down (a stage restarted its count) starts again from zero.
      const d = (now[k] ?? 0) - (before[k] ?? 0);
      if (d !== 0) delta[k] = d > 0 ? d : (now[k] ?? 0);
    }
    return delta;
  }

  #add(stage: StageSpec, partition: number, counts: Partial<PartitionCounts>): void {
    if (Object.keys(counts).length === 0) return;
    for (const map of [this.#interval, this.#total]) {
      let partitions = map.get(stage.stage);
      if (!partitions) map.set(stage.stage, (partitions = new Map<number, PartitionCounts>()));
      let c = partitions.get(partition);
      if (!c) partitions.set(partition, (c = zero()));
      add(c, counts);
    }
  }
}
