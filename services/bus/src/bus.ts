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
 * Called with each batch. With `commit: 'on-return'` (the default) the batch's offsets
 * are committed only after the returned promise resolves, so its effects must be
 * durable by then. A throw leaves the batch uncommitted; it is delivered again
 * (at-least-once). With `commit: 'manual'` nothing is committed on return: see
 * Subscription.commit.
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
  /**
   * When offsets are committed (default 'on-return').
   * - on-return: after each handler call resolves, up to the end of its batch.
   * - manual: never by the bus; the subscriber calls Subscription.commit when it
   *   chooses, and the partition keeps being read meanwhile (the next batch comes
   *   once the handler returns). For a consumer that holds records past its handler
   *   call (the alerter waiting out group_wait), so one held record does not stop its
   *   partition. A handler throw delivers the batch again after the backoff, as in
   *   on-return. On a rebalance a partition this member loses drops its uncommitted
   *   progress: its next owner reads again from the last commit (duplicates, never loss).
   */
  commit?: 'on-return' | 'manual';
}

export interface Subscription {
  /** Partitions this member owns right now. */
  assignment(): number[];
  /**
   * Manual commit only (a bus_invalid_option error otherwise): commits `partition` up to
   * `offset`, the decimal offset of the next record to read there (Kafka's convention:
   * every record below it is done). Offsets count as delivered once handed to the
   * handler, so part of a batch may be committed while its handler still runs.
   * Resolves true once the group's commit is at or past `offset` (a commit at or below
   * the current one changes nothing: commits never go backwards); false when this
   * member does not own the partition now (the next owner re-reads from the last
   * commit) or has not read it since a rebalance, so nothing was committed: try again
   * later, or leave it. An offset beyond what this member was handed is refused with
   * a bus_commit_refused error.
   */
  commit(partition: number, offset: string): Promise<boolean>;
  /**
   * Stops fetching, lets the in-flight batch finish and commit (on-return), then leaves
   * the group. With manual commit, commit what is done before calling it: commits
   * after stop() began resolve false.
   */
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
