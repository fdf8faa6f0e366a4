import type { Cut } from './cuts.ts';

/**
 * Which partitions this process holds state for, which keys belong to each, and
 * up to which events-log offset each key's state reaches. Pure bookkeeping: the
 * processor does the I/O (restore, checkpoint) and asks the ledger what to do.
 */
export interface PartitionEntry {
  /** Keys with state in the scorer, with the offset of the last event folded into each. */
  applied: Map<string, bigint>;
  /** The offset the next batch should start at, once one batch has been handled. */
  next: bigint | null;
  /**
   * True after a restore until a batch shows rows that were not yet in the store:
   * rows of the batch that crashed before its checkpoint may already be stored.
   * False from the start when the partition's cuts were restored: then only a
   * recorded cut can have stored rows, and it is replayed as it was (cuts.ts).
   */
  probing: boolean;
  /** The partition's latest cuts (cuts.ts), as restored and recorded since. */
  cuts: Cut[];
}

export class PartitionLedger {
  private readonly partitions = new Map<number, PartitionEntry>();

  has(partition: number): boolean {
    return this.partitions.has(partition);
  }

  get(partition: number): PartitionEntry | undefined {
    return this.partitions.get(partition);
  }

  /** Registers a freshly restored partition: key → offset its restored state reaches, and its recorded cuts. */
  restored(partition: number, applied: Map<string, bigint>, cuts: Cut[] = []): PartitionEntry {
    const entry: PartitionEntry = { applied, next: null, probing: cuts.length === 0, cuts };
    this.partitions.set(partition, entry);
    return entry;
  }

  /** Forgets partitions; returns the keys whose state must leave the scorer. */
  forget(partitions: Iterable<number>): string[] {
    const keys: string[] = [];
    for (const partition of partitions) {
      const entry = this.partitions.get(partition);
      if (!entry) continue;
      keys.push(...entry.applied.keys());
      this.partitions.delete(partition);
    }
    return keys;
  }

  /** The partition whose entry holds this key's state, if any. */
  partitionOf(key: string): number | undefined {
    for (const [partition, entry] of this.partitions) if (entry.applied.has(key)) return partition;
    return undefined;
  }

  /** Partitions held here that are not in `owned` (lost in a rebalance). */
  notIn(owned: readonly number[]): number[] {
    const set = new Set(owned);
    return [...this.partitions.keys()].filter((p) => !set.has(p));
  }

  /**
   * A batch starting past the expected offset means another member processed the
   * records in between (we lost and regained the partition between two batches),
   * so this process's state is stale and must be restored again.
   */
  isStale(partition: number, firstOffset: bigint): boolean {
    const next = this.partitions.get(partition)?.next;
    return next !== null && next !== undefined && firstOffset > next;
  }

  /** True when the key's state already includes the event at this offset. */
  static alreadyApplied(entry: PartitionEntry, key: string, offset: bigint): boolean {
    const applied = entry.applied.get(key);
    return applied !== undefined && offset <= applied;
  }
}
