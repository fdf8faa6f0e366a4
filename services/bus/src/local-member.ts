import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { describeError } from '@aispm/core';
import type { BusRecord, SubscribeOptions, Subscription } from './bus.ts';
import { commitOffset, notManual } from './bus-errors.ts';
import { handlerFailed, type BusLog } from './log.ts';
import type { GroupMember, Linger, MemoryGroup } from './memory-group.ts';
import type { StoredRecord } from './memory-partition.ts';
import type { RetryBackoff } from './retry.ts';
import { Signal } from './signal.ts';

export interface MemberContext {
  backoff: RetryBackoff;
  log: BusLog;
  onStopped: () => void;
}

/**
 * One member of a consumer group of an in-process bus (memory, sqlite): a loop that
 * takes batches from its partitions while there are any, else waits to be woken.
 * The group commits a batch after its handler resolves (on-return), or when the
 * subscriber calls commit() (manual); a commit that throws (the sqlite bus could not
 * write the offset) counts as a failed batch, or rejects the manual commit.
 */
export class LocalSubscription implements Subscription, GroupMember {
  readonly fromBeginning: boolean;
  readonly #group: MemoryGroup<LocalSubscription>;
  readonly #options: Required<SubscribeOptions>;
  readonly #context: MemberContext;
  readonly #signal = new Signal();
  readonly #done: Promise<void>;
  #stopping = false;
  #stopped = false;
  /** The partition served last; the next batch comes from the one after it, so no partition starves. */
  #last = -1;
  readonly #linger: Linger;

  constructor(group: MemoryGroup<LocalSubscription>, options: Required<SubscribeOptions>, context: MemberContext) {
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

  commit(partition: number, offset: string): Promise<boolean> {
    return settle(() => {
      if (this.#options.commit !== 'manual') throw notManual(this.#options.topic, this.#options.group);
      const next = commitOffset(offset);
      if (this.#stopping || this.#stopped) return false;
      const verdict = this.#group.checkCommit(this, partition, Number(next));
      if (verdict === 'commit') this.#group.commit(partition, Number(next));
      return verdict !== 'stale';
    });
  }

  stop(): Promise<void> {
    this.#stopping = true;
    this.#signal.notify();
    return this.#done;
  }

  async #run(): Promise<void> {
    // Up to `concurrency` batches at once, each of another partition (the group never offers one in flight):
    // while one batch's handler waits for its writes, the next is handled.
    const running = new Set<Promise<void>>();
    try {
      while (!this.#stopping) {
        if (running.size >= this.#options.concurrency) {
          await this.#signal.wait();
          continue;
        }
        const next = this.#group.nextPartition(this, this.#last, this.#linger, Date.now());
        if (!('partition' in next)) {
          await this.#signal.wait(next.dueInMs);
          continue;
        }
        const { partition } = next;
        this.#last = partition;
        const delivery: Promise<void> = this.#deliver(partition).finally(() => {
          running.delete(delivery);
          this.#signal.notify();
        });
        running.add(delivery);
        // Handlers that resolve at once would otherwise hold the event loop until the backlog is gone.
        await yieldToEventLoop();
      }
    } catch (err) {
      this.#context.log(
        `member of group ${this.#options.group} on ${this.#options.topic} stopped: ${describeError(err)}`,
        'error',
      );
    } finally {
      // Stopping lets the batches in flight finish and commit.
      await Promise.allSettled(running);
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
      const manual = this.#options.commit === 'manual';
      // Manual: the records count as handed over now, so the handler may commit part of its batch.
      if (manual) this.#group.advance(this, partition, last + 1);
      try {
        await settle(() => handler({ topic, partition, records }));
        if (!manual) this.#group.commit(partition, last + 1);
        else this.#group.recovered(partition);
      } catch (err) {
        if (manual) this.#group.rewind(this, partition, first);
        const delay = this.#group.fail(partition, this.#context.backoff);
        const batch = { group, topic, partition, first: String(first), last: String(last) };
        this.#context.log(handlerFailed(batch, err, delay), 'warn');
      }
    } finally {
      this.#group.end(partition);
    }
  }
}

/** Runs `fn` as a promise: a synchronous throw becomes a rejection, as callers of an async API expect. */
export function settle<T>(fn: () => T | Promise<T>): Promise<T> {
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
