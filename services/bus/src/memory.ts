import { BacklogGroup } from './backlog-group.ts';
import type { Backlog, Bus, OutgoingRecord, SubscribeOptions, Subscription, TopicSpec } from './bus.ts';
import { busClosed, invalidOption, topicMissing } from './bus-errors.ts';
import { LocalSubscription, settle } from './local-member.ts';
import { stderrBusLog, type BusLog } from './log.ts';
import { MemoryPartition } from './memory-partition.ts';
import { partitionOfRecord } from '@aispm/core';
import { DEFAULT_RETRY_BACKOFF, type RetryBackoff } from './retry.ts';
import { checkTopicSpecs, subscribeDefaults } from './validate.ts';

export interface MemoryBusOptions {
  /**
   * Records per partition kept after every group has committed past them (on a topic no
   * group reads: the newest ones), so a group that subscribes later from the beginning
   * still finds recent history (default 10000). Records a group has not committed yet
   * are never dropped.
   */
  retainRecords?: number;
  /** Wait before a failed batch is delivered again (default 100 ms doubling to 5 s). */
  retryBackoff?: RetryBackoff;
  /** Receives handler failures (default: stderr). */
  log?: BusLog;
}

/** Trimming copies the partition's records, so it runs once per this many appends. */
const TRIM_EVERY = 1024;

interface MemoryTopic {
  spec: TopicSpec;
  partitions: MemoryPartition[];
  groups: Map<string, BacklogGroup<LocalSubscription>>;
  appendedSinceTrim: number[];
}

/**
 * The in-process bus of embedded mode, with the contract of a Kafka topic: keyed
 * records go to partitions by Kafka's own key hash, each partition is an ordered log
 * with growing offsets, and consumer groups share partitions among their members and
 * commit after each batch. Publishing appends and wakes waiting members at once; it
 * never waits for consumers. Nothing survives the process: state that must outlive
 * it goes to the store.
 */
export class MemoryBus implements Bus {
  readonly kind = 'memory';
  readonly #topics = new Map<string, MemoryTopic>();
  readonly #subscriptions = new Set<LocalSubscription>();
  readonly #retain: number;
  readonly #backoff: RetryBackoff;
  readonly #log: BusLog;
  #closed = false;

  constructor(options: MemoryBusOptions = {}) {
    this.#retain = options.retainRecords ?? 10_000;
    if (!Number.isInteger(this.#retain) || this.#retain < 0) {
      throw invalidOption(`retainRecords is ${this.#retain}; expected a whole number of at least 0`);
    }
    this.#backoff = options.retryBackoff ?? DEFAULT_RETRY_BACKOFF;
    this.#log = options.log ?? stderrBusLog;
  }

  ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    return settle(() => {
      this.#checkOpen();
      checkTopicSpecs(specs);
      for (const spec of specs) {
        if (this.#topics.has(spec.topic)) continue;
        const compacted = spec.compacted === true;
        this.#topics.set(spec.topic, {
          spec: { topic: spec.topic, partitions: spec.partitions, compacted },
          partitions: Array.from({ length: spec.partitions }, () => new MemoryPartition(compacted)),
          groups: new Map(),
          appendedSinceTrim: Array.from({ length: spec.partitions }, () => 0),
        });
      }
    });
  }

  /** How a topic was created, or undefined when it does not exist. */
  describeTopic(topic: string): TopicSpec | undefined {
    const found = this.#topics.get(topic);
    return found && { ...found.spec };
  }

  publish(topic: string, records: readonly OutgoingRecord[]): Promise<void> {
    return settle(() => {
      this.#checkOpen();
      const t = this.#topic(topic);
      const added = new Map<number, { records: number; bytes: number }>();
      const timestamp = Date.now();
      for (const record of records) {
        const p = partitionOfRecord(record, t.partitions.length);
        // Copies, as a broker would: the caller may reuse its buffer once publish returns.
        t.partitions[p]!.append({
          key: record.key,
          value: Buffer.from(record.value),
          headers: { ...record.headers },
          timestamp,
        });
        t.appendedSinceTrim[p]!++;
        const sum = added.get(p) ?? { records: 0, bytes: 0 };
        sum.records++;
        sum.bytes += record.value.length;
        added.set(p, sum);
      }
      for (const [p, sum] of added) {
        if (t.appendedSinceTrim[p]! >= TRIM_EVERY) this.#trim(t, p);
        for (const group of t.groups.values()) {
          group.appended(p, sum.records, sum.bytes);
          group.wake(p);
        }
      }
    });
  }

  subscribe(options: SubscribeOptions): Promise<Subscription> {
    return settle(() => {
      this.#checkOpen();
      const resolved = subscribeDefaults(options);
      const t = this.#topic(resolved.topic);
      let group = t.groups.get(resolved.group);
      if (!group) {
        group = new BacklogGroup(t.partitions, (p, offset) => countFrom(t.partitions[p]!, offset));
        t.groups.set(resolved.group, group);
      }
      const subscription = new LocalSubscription(group, resolved, {
        backoff: this.#backoff,
        log: this.#log,
        onStopped: () => this.#subscriptions.delete(subscription),
      });
      this.#subscriptions.add(subscription);
      return subscription;
    });
  }

  backlog(topic: string, group: string): Backlog {
    return this.#topic(topic).groups.get(group)?.backlog() ?? { records: 0, bytes: 0 };
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#subscriptions].map((s) => s.stop()));
  }

  #topic(topic: string): MemoryTopic {
    const found = this.#topics.get(topic);
    if (!found) throw topicMissing(topic);
    return found;
  }

  #checkOpen(): void {
    if (this.#closed) throw busClosed(this.kind);
  }

  /** Drops what every group has committed, beyond the newest `retainRecords`. */
  #trim(t: MemoryTopic, p: number): void {
    const log = t.partitions[p]!;
    let below = log.endOffset - this.#retain;
    for (const group of t.groups.values()) below = Math.min(below, group.floor(p) ?? below);
    log.trim(below);
    t.appendedSinceTrim[p] = 0;
  }
}

/** The records of `log` from `offset` on and their value bytes; once per group and partition. */
function countFrom(log: MemoryPartition, offset: number): Backlog {
  const records = log.read(offset, Number.MAX_SAFE_INTEGER);
  let bytes = 0;
  for (const r of records) bytes += r.value.length;
  return { records: records.length, bytes };
}
