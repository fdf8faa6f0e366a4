import type { MemoryPartition, StoredRecord } from './memory-partition.ts';
import { commitRefused } from './bus-errors.ts';
import { retryDelayMs, type RetryBackoff } from './retry.ts';

/** What a group reads of a partition's log: the memory bus's own, or the SQLite bus's view of its table. */
export type PartitionLog = Pick<MemoryPartition, 'endOffset' | 'startOffset' | 'read'>;

/** What a group needs from one of its members. */
export interface GroupMember {
  /** Where to start on a partition the group has no offset for yet. */
  readonly fromBeginning: boolean;
  /** Something changed (records, assignment, a partition freed or done backing off): look for work. */
  wake(): void;
}

interface Retry {
  failures: number;
  /** Set while the partition waits out its backoff. */
  timer: NodeJS.Timeout | undefined;
}

/** How long unread records may wait for a fuller batch (SubscribeOptions.lingerMs), and how many fill one. */
export interface Linger {
  ms: number;
  records: number;
}

/**
 * A consumer group on one topic: its committed offsets, which member owns which
 * partition, and which partitions have a batch in flight or are backing off after a
 * failure. A partition's batch is handled by one member at a time: after a
 * rebalance the new owner waits until the old owner's in-flight batch is done and
 * committed, then resumes at the committed offset, as on a Kafka broker.
 */
export class MemoryGroup<M extends GroupMember> {
  readonly #partitions: readonly PartitionLog[];
  /** The group's committed offset per partition (next offset to read); undefined until the group first owns it. */
  readonly #committed: (number | undefined)[];
  /**
   * Next offset to hand to the partition's owner: the committed offset, or past it while a
   * manual-commit owner has records it has not committed. A new owner starts at the commit.
   */
  readonly #position: (number | undefined)[];
  readonly #owners: (M | undefined)[];
  readonly #members: M[] = [];
  readonly #inFlight = new Set<number>();
  readonly #retries = new Map<number, Retry>();

  constructor(partitions: readonly PartitionLog[]) {
    this.#partitions = partitions;
    this.#committed = partitions.map(() => undefined);
    this.#position = partitions.map(() => undefined);
    this.#owners = partitions.map(() => undefined);
  }

  join(member: M): void {
    this.#members.push(member);
    this.#rebalance();
  }

  leave(member: M): void {
    const at = this.#members.indexOf(member);
    if (at >= 0) this.#members.splice(at, 1);
    if (this.#members.length === 0) {
      // Nobody is left to wake; the next member to join starts without waiting.
      for (const retry of this.#retries.values()) clearTimeout(retry.timer);
      this.#retries.clear();
    }
    this.#rebalance();
  }

  assignment(member: M): number[] {
    return this.#owners.flatMap((owner, partition) => (owner === member ? [partition] : []));
  }

  /** The lowest offset this group still needs on `partition`; undefined when it never read it. */
  floor(partition: number): number | undefined {
    return this.#committed[partition];
  }

  /**
   * The next partition `member` can take a batch from, round robin after `after`;
   * else how long until the first lingering one is due (undefined: none has records).
   */
  nextPartition(member: M, after: number, linger: Linger, nowMs: number): { partition: number } | { dueInMs?: number } {
    const n = this.#partitions.length;
    let dueInMs: number | undefined;
    for (let i = 1; i <= n; i++) {
      const p = (after + i + n) % n;
      if (this.#owners[p] !== member || this.#inFlight.has(p) || this.#retries.get(p)?.timer) continue;
      if (this.#position[p]! >= this.#partitions[p]!.endOffset) continue;
      const due = this.#dueIn(p, linger, nowMs);
      if (due === 0) return { partition: p };
      dueInMs = Math.min(due, dueInMs ?? due);
    }
    return dueInMs === undefined ? {} : { dueInMs };
  }

  /** Milliseconds until the unread records of `p` are due: 0 once a full batch is there or the oldest has waited `linger.ms`. */
  #dueIn(p: number, linger: Linger, nowMs: number): number {
    const log = this.#partitions[p]!;
    const from = this.#position[p]!;
    if (linger.ms === 0 || log.endOffset - from >= linger.records) return 0;
    const oldest = log.read(from, 1)[0];
    return oldest ? Math.max(0, oldest.timestamp + linger.ms - nowMs) : 0;
  }

  /** Marks a batch of `partition` in flight and returns its records, from the position on. */
  begin(partition: number, maxBatchSize: number): StoredRecord[] {
    this.#inFlight.add(partition);
    return this.#partitions[partition]!.read(this.#position[partition]!, maxBatchSize);
  }

  /** The batch succeeded (on-return), or the owner committed by hand: `next` is the offset after the last record done. */
  commit(partition: number, next: number): void {
    this.#committed[partition] = next;
    this.#position[partition] = Math.max(this.#position[partition] ?? next, next);
    this.recovered(partition);
  }

  /**
   * Manual commit: moves the position past records handed to `member`, without
   * committing them. Nothing when `member` no longer owns the partition: its next
   * owner starts at the commit.
   */
  advance(member: M, partition: number, next: number): void {
    if (this.#owners[partition] !== member) return;
    this.#position[partition] = Math.max(this.#position[partition]!, next);
  }

  /** Manual commit: a failed batch is read again from its first record (or the commit, if that is later). */
  rewind(member: M, partition: number, to: number): void {
    if (this.#owners[partition] !== member) return;
    this.#position[partition] = Math.max(this.#committed[partition]!, to);
  }

  /**
   * Checks a manual commit by `member` (Subscription.commit): 'stale' when it does not own
   * the partition, 'done' when the commit is already at or past `next`, 'commit' when it
   * should be taken; throws when `next` is past what was handed out.
   */
  checkCommit(member: M, partition: number, next: number): 'stale' | 'done' | 'commit' {
    if (this.#owners[partition] !== member) return 'stale';
    const position = this.#position[partition]!;
    if (next > position)
      throw commitRefused(
        `commit of partition ${partition} up to offset ${next} is past what this member was handed (up to ${position}); ` +
          'commit only offsets of records the handler received, plus one',
      );
    return next <= this.#committed[partition]! ? 'done' : 'commit';
  }

  /** A batch of `partition` succeeded: any failure backoff is over. */
  recovered(partition: number): void {
    const retry = this.#retries.get(partition);
    if (retry) {
      clearTimeout(retry.timer);
      this.#retries.delete(partition);
    }
  }

  /** The batch failed: it stays uncommitted and the partition backs off; returns the delay in ms. */
  fail(partition: number, backoff: RetryBackoff): number {
    const retry = this.#retries.get(partition) ?? { failures: 0, timer: undefined };
    retry.failures++;
    const delay = retryDelayMs(retry.failures, backoff);
    clearTimeout(retry.timer);
    retry.timer = setTimeout(() => {
      retry.timer = undefined;
      this.#wakeAll();
    }, delay);
    this.#retries.set(partition, retry);
    return delay;
  }

  /** The batch is over, committed or not; the partition is free for its (maybe new) owner. */
  end(partition: number): void {
    this.#inFlight.delete(partition);
    this.#owners[partition]?.wake();
  }

  wake(partition: number): void {
    this.#owners[partition]?.wake();
  }

  #rebalance(): void {
    const members = this.#members;
    for (let p = 0; p < this.#owners.length; p++) {
      const owner = members.length > 0 ? members[p % members.length] : undefined;
      // A partition changing hands drops what its old owner read and did not commit (manual commit).
      if (this.#owners[p] !== owner) this.#position[p] = this.#committed[p];
      this.#owners[p] = owner;
      if (owner && this.#committed[p] === undefined) {
        const log = this.#partitions[p]!;
        this.#committed[p] = owner.fromBeginning ? log.startOffset : log.endOffset;
        this.#position[p] = this.#committed[p];
      }
    }
    this.#wakeAll();
  }

  #wakeAll(): void {
    for (const member of this.#members) member.wake();
  }
}
