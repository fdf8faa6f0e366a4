/**
 * The Bus contract: what the pipeline needs from a log of keyed records.
 * Kafka provides it in distributed mode, an in-process log in embedded mode;
 * `bus.contract.ts` holds the tests both must pass.
 */
export interface OutgoingRecord {
  key: string;
  value: Buffer;
  headers?: Record<string, string>;
}

export interface BusRecord {
  topic: string;
  partition: number;
  /** Decimal offset within the partition (a string, as Kafka offsets exceed 2^53). */
  offset: string;
  key: string;
  value: Buffer;
  headers: Record<string, string>;
  /** Milliseconds since the epoch, when the record was appended. */
  timestamp: number;
}

/** One partition's worth of records, in offset order. */
export interface Batch {
  topic: string;
  partition: number;
  records: BusRecord[];
}

/**
 * A handler's answer when it is done with a batch in memory but its effects are
 * still being made durable: the bus may hand over the partition's next batch at
 * once, so that batch is processed while this one is written.
 */
export interface Handled {
  /**
   * Resolves once the batch's effects are durable; the bus then commits its offsets.
   * Rejects when they cannot be made so: the bus delivers the batch again, from its
   * first record, and with it every later batch of the partition it handed over
   * meanwhile, whose commits it drops whatever their own promises do.
   */
  durable: Promise<void>;
}

/**
 * Called with each batch. Resolving with nothing means the batch's effects are
 * durable: its offsets are committed. Resolving with `Handled` defers the commit
 * until `durable` resolves. A bus commits a partition's batches in order, and
 * hands over at most one batch past the oldest one not yet durable (it may wait
 * for each one: the memory bus does). A throw, like a
 * rejected `durable`, leaves the batch uncommitted; it is delivered again
 * (at-least-once).
 */
export type BatchHandler = (batch: Batch) => Promise<void | Handled>;

export interface SubscribeOptions {
  topic: string;
  /** Consumer group: members of one group share the partitions; each group sees every record. */
  group: string;
  handler: BatchHandler;
  /** Start from the earliest record when the group has no committed offset (default true). */
  fromBeginning?: boolean;
  /** Most records handed to one handler call (default 1000). */
  maxBatchSize?: number;
  /**
   * Most partitions whose batches may be in the handler at once (default 1). Above 1
   * the handler must be safe to call concurrently for different partitions; one
   * partition's batches still come one after another, in order. A bus may run fewer
   * (the memory bus runs one).
   */
  concurrency?: number;
  /**
   * Most milliseconds records may wait for more before a batch of fewer than
   * maxBatchSize is handed over (default 0: at once). Fewer, fuller batches trade
   * latency for less per-batch work, such as checkpointing the keys that
   * successive batches share. A bus may hand a batch over sooner (Kafka: once the
   * broker holds LINGER_MIN_BYTES for the fetch).
   */
  lingerMs?: number;
}

export interface Subscription {
  /** Partitions this member owns right now. */
  assignment(): number[];
  /** Stops fetching, lets the in-flight batches finish, become durable and commit, then leaves the group. */
  stop(): Promise<void>;
}

export interface TopicSpec {
  topic: string;
  partitions: number;
  /** Keep only the newest record per key (Kafka log compaction), for changelogs. */
  compacted?: boolean;
}

export interface Bus {
  readonly kind: 'memory' | 'kafka';
  /** Creates topics that do not exist yet; existing ones are left as they are. */
  ensureTopics(specs: readonly TopicSpec[]): Promise<void>;
  /** Appends records; resolves once they are durable (Kafka: acknowledged by all in-sync replicas). */
  publish(topic: string, records: readonly OutgoingRecord[]): Promise<void>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /** Stops every subscription (draining in-flight batches) and releases connections. */
  close(): Promise<void>;
}
