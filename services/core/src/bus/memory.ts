import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { describeError } from '../errors.ts';
import type { Bus, BusRecord, OutgoingRecord, SubscribeOptions, Subscription, TopicSpec } from './bus.ts';
import { busClosed, invalidOption, topicMissing } from './bus-errors.ts';
import { handlerFailed, stderrBusLog, type BusLog } from './log.ts';
import { MemoryGroup, type GroupMember, type Linger } from './memory-group.ts';
import { MemoryPartition, type StoredRecord } from './memory-partition.ts';
import { partitionForKey } from './partitioner.ts';
import { DEFAULT_RETRY_BACKOFF, type RetryBackoff } from './retry.ts';
import { Signal } from './signal.ts';
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
  groups: Map<string, MemoryGroup<MemorySubscription>>;
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
  readonly #subscriptions = new Set<MemorySubscription>();
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
      const touched = new Set<number>();
      const timestamp = Date.now();
      for (const record of records) {
        const p = partitionForKey(record.key, t.partitions.length);
        // Copies, as a broker would: the caller may reuse its buffer once publish returns.
        t.partitions[p]!.append({
          key: record.key,
          value: Buffer.from(record.value),
          headers: { ...record.headers },
          timestamp,
        });
        t.appendedSinceTrim[p]!++;
        touched.add(p);
      }
      for (const p of touched) {
        if (t.appendedSinceTrim[p]! >= TRIM_EVERY) this.#trim(t, p);
        for (const group of t.groups.values()) group.wake(p);
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
        group = new MemoryGroup(t.partitions);
        t.groups.set(resolved.group, group);
      }
      const subscription = new MemorySubscription(group, resolved, {
        backoff: this.#backoff,
        log: this.#log,
        onStopped: () => this.#subscriptions.delete(subscription),
      });
      this.#subscriptions.add(subscription);
      return subscription;
    });
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

interface MemberContext {
  backoff: RetryBackoff;
  log: BusLog;
  onStopped: () => void;
}

/** One group member: a loop that takes batches from its partitions while there are any, else waits to be woken. */
class MemorySubscription implements Subscription, GroupMember {
  readonly fromBeginning: boolean;
  readonly #group: MemoryGroup<MemorySubscription>;
  readonly #options: Required<SubscribeOptions>;
  readonly #context: MemberContext;
  readonly #signal = new Signal();
  readonly #done: Promise<void>;
  #stopping = false;
  #stopped = false;
  /** The partition served last; the next batch comes from the one after it, so no partition starves. */
  #last = -1;
  readonly #linger: Linger;

  constructor(group: MemoryGroup<MemorySubscription>, options: Required<SubscribeOptions>, context: MemberContext) {
    this.fromBeginning = options.fromBeginning;
    this.#group = group;
    this.#options = options;
    this.#context = context;
    this.#linger = { ms: options.lingerMs, records: options.maxBatchSize };
    group.join(this);
    this.#done = this.#run();
  }

  wake(): void {
    this.#signal.notify();
  }

  assignment(): number[] {
    return this.#stopped ? [] : this.#group.assignment(this);
  }

  stop(): Promise<void> {
    this.#stopping = true;
    this.#signal.notify();
    return this.#done;
  }

  async #run(): Promise<void> {
    try {
      while (!this.#stopping) {
        const next = this.#group.nextPartition(this, this.#last, this.#linger, Date.now());
        if (!('partition' in next)) {
          await this.#signal.wait(next.dueInMs);
          continue;
        }
        const { partition } = next;
        this.#last = partition;
        await this.#deliver(partition);
        // Handlers that resolve at once would otherwise hold the event loop until the backlog is gone.
        await yieldToEventLoop();
      }
    } catch (err) {
      this.#context.log(
        `member of group ${this.#options.group} on ${this.#options.topic} stopped: ${describeError(err)}`,
        'error',
      );
    } finally {
      this.#stopped = true;
      this.#group.leave(this);
      this.#context.onStopped();
    }
  }

  async #deliver(partition: number): Promise<void> {
    const { topic, group, handler, maxBatchSize } = this.#options;
    // nextPartition only offers partitions with records past the committed offset.
    const stored = this.#group.begin(partition, maxBatchSize);
    try {
      const first = stored[0]!.offset;
      const last = stored.at(-1)!.offset;
      const records = stored.map((r) => toBusRecord(topic, partition, r));
      try {
        await settle(() => handler({ topic, partition, records }));
      } catch (err) {
        const delay = this.#group.fail(partition, this.#context.backoff);
        const batch = { group, topic, partition, first: String(first), last: String(last) };
        this.#context.log(handlerFailed(batch, err, delay), 'warn');
        return;
      }
      this.#group.commit(partition, last + 1);
    } finally {
      this.#group.end(partition);
    }
  }
}

/** Runs `fn` as a promise: a synchronous throw becomes a rejection, as callers of an async API expect. */
function settle<T>(fn: () => T | Promise<T>): Promise<T> {
  return new Promise<T>((resolve) => resolve(fn()));
}

/** Each delivery gets its own copy, as each Kafka consumer decodes its own bytes. */
function toBusRecord(topic: string, partition: number, r: StoredRecord): BusRecord {
  return {
    topic,
    partition,
    offset: String(r.offset),
    key: r.key,
    value: Buffer.from(r.value),
    headers: { ...r.headers },
    timestamp: r.timestamp,
  };
}
