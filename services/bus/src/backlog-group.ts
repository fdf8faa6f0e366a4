import type { Backlog } from './bus.ts';
import { MemoryGroup, type GroupMember, type PartitionLog } from './memory-group.ts';
import type { StoredRecord } from './memory-partition.ts';

/** Counts the records of `partition` from `offset` to the end, and their value bytes. */
export type CountFrom = (partition: number, offset: number) => Backlog;

/**
 * A consumer group that also keeps, per partition, how many records and value bytes
 * lie between its committed offset and the end of the log (Bus.backlog): up on
 * append, down on commit, counted from the log once when the group first gets an
 * offset on a partition. Records below every group's offset may be trimmed; those
 * at or above one are never, so the counters stay exact.
 */
export class BacklogGroup<M extends GroupMember> extends MemoryGroup<M> {
  readonly #countFrom: CountFrom;
  /** Undefined until the group has an offset on the partition. */
  readonly #pending: (Backlog | undefined)[];
  /** The batch in flight per partition: what its commit takes off the backlog. */
  readonly #batches = new Map<number, Backlog & { first: number; next: number }>();

  constructor(partitions: readonly PartitionLog[], countFrom: CountFrom) {
    super(partitions);
    this.#countFrom = countFrom;
    this.#pending = partitions.map(() => undefined);
  }

  /** `records` records of `bytes` value bytes were appended to `partition`. */
  appended(partition: number, records: number, bytes: number): void {
    const pending = this.#pending[partition];
    if (!pending) return;
    pending.records += records;
    pending.bytes += bytes;
  }

  backlog(): Backlog {
    const sum = { records: 0, bytes: 0 };
    for (const pending of this.#pending) {
      sum.records += pending?.records ?? 0;
      sum.bytes += pending?.bytes ?? 0;
    }
    return sum;
  }

  override join(member: M): void {
    super.join(member);
    // Joining gives every partition an owner, and so an offset.
    for (let p = 0; p < this.#pending.length; p++) this.#count(p);
  }

  override begin(partition: number, maxBatchSize: number): StoredRecord[] {
    const stored = super.begin(partition, maxBatchSize);
    let bytes = 0;
    for (const r of stored) bytes += r.value.length;
    const next = (stored.at(-1)?.offset ?? -1) + 1;
    const first = stored[0]?.offset ?? next;
    this.#batches.set(partition, { records: stored.length, bytes, first, next });
    return stored;
  }

  override commit(partition: number, next: number): void {
    const from = this.floor(partition);
    super.commit(partition, next);
    const batch = this.#batches.get(partition);
    this.#batches.delete(partition);
    const pending = this.#pending[partition];
    if (pending && batch !== undefined && batch.first === from && batch.next === next) {
      pending.records -= batch.records;
      pending.bytes -= batch.bytes;
    } else {
      // An offset set from outside a batch (restored at open, or a manual commit): count afresh.
      this.#pending[partition] = undefined;
      this.#count(partition);
    }
  }

  #count(partition: number): void {
    const floor = this.floor(partition);
    if (this.#pending[partition] || floor === undefined) return;
    this.#pending[partition] = this.#countFrom(partition, floor);
  }
}
