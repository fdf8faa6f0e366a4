import type { OutgoingRecord, Publisher } from '@aispm/core';

/**
 * The Bus contract: what the pipeline needs from a log of keyed records.
 * Kafka provides it in distributed mode, an in-process log in embedded mode;
 * `bus.contract.ts` holds the tests both must pass.
 */

export type { OutgoingRecord };

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
   * partition's batches still come one after another, in order.
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
  /** How long Kafka keeps records (retention.ms) when the topic is created; unset: the broker's default. */
  retentionMs?: number;
}

/** A topic as the embedded bus stores it: retention is Kafka's; the embedded log is bounded by its backlog limits. */
export type StoredTopicSpec = Required<Omit<TopicSpec, 'retentionMs'>>;

/** What a consumer group still has to read of a topic (Bus.backlog). */
export interface Backlog {
  records: number;
  /** Bytes of those records' values. */
  bytes: number;
}

export interface Bus extends Publisher {
  /** memory and sqlite are embedded (in-process) buses; kafka is distributed. */
  readonly kind: 'memory' | 'kafka' | 'sqlite';
  /**
   * Names the log this bus holds, the same after a restart when the log survives it (sqlite:
   * `sqlite:<uuid>`, kept in its database). Offsets checkpointed against one log id are only
   * valid on a bus with the same id. Undefined when the bus does not name its log.
   */
  readonly logId?: string;
  /** Creates topics that do not exist yet; existing ones are left as they are. */
  ensureTopics(specs: readonly TopicSpec[]): Promise<void>;
  /** Appends records; resolves once they are durable (Kafka: acknowledged by all in-sync replicas). */
  publish(topic: string, records: readonly OutgoingRecord[]): Promise<void>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /**
   * Records published to `topic` that `group` has not committed yet, and their bytes, for
   * backpressure: synchronous and cheap (running counters). A group the bus has not seen
   * yet has none. Throws bus_topic_missing for a topic that does not exist (embedded).
   * Kafka's is the group's lag as last read from the brokers, refreshed in the
   * background about once a second.
   */
  backlog?(topic: string, group: string): Backlog;
  /** Stops every subscription (draining in-flight batches) and releases connections. */
  close(): Promise<void>;
}
