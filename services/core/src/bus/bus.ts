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
 * Called with each batch. The batch's offsets are committed only after the
 * returned promise resolves, so its effects must be durable by then. A throw
 * leaves the batch uncommitted; it is delivered again (at-least-once).
 */
export type BatchHandler = (batch: Batch) => Promise<void>;

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
  /** Stops fetching, lets the in-flight batch finish and commit, then leaves the group. */
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
