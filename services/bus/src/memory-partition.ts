/** One record as the memory bus holds it. */
export interface StoredRecord {
  offset: number;
  key: string;
  value: Buffer;
  headers: Record<string, string>;
  timestamp: number;
}

/**
 * One partition's log: records in offset order, offsets growing from 0. Trimming
 * drops a prefix; on a compacted topic it keeps each key's newest record (Kafka's
 * log compaction), so offsets can have gaps and reads search by offset.
 */
export class MemoryPartition {
  #records: StoredRecord[] = [];
  #next = 0;
  /** Newest offset of each key; kept for compacted topics only. */
  readonly #latest: Map<string, number> | undefined;

  constructor(compacted: boolean) {
    this.#latest = compacted ? new Map() : undefined;
  }

  /** The offset the next record gets (Kafka's log end offset). */
  get endOffset(): number {
    return this.#next;
  }

  /** The oldest offset still held; endOffset when the log is empty. */
  get startOffset(): number {
    return this.#records[0]?.offset ?? this.#next;
  }

  get size(): number {
    return this.#records.length;
  }

  append(record: Omit<StoredRecord, 'offset'>): void {
    const offset = this.#next++;
    this.#records.push({ ...record, offset });
    this.#latest?.set(record.key, offset);
  }

  /** Up to `max` records from offset `from` on. */
  read(from: number, max: number): StoredRecord[] {
    const start = this.#indexOf(from);
    return this.#records.slice(start, start + max);
  }

  /** Drops the records below `offset` (on a compacted topic, all but each key's newest); returns how many. */
  trim(offset: number): number {
    const cut = this.#indexOf(offset);
    const latest = this.#latest;
    const kept = latest ? this.#records.slice(0, cut).filter((r) => latest.get(r.key) === r.offset) : [];
    if (kept.length === cut) return 0;
    this.#records = kept.concat(this.#records.slice(cut));
    return cut - kept.length;
  }

  /** Index of the first record at or above `offset`. */
  #indexOf(offset: number): number {
    let lo = 0;
    let hi = this.#records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#records[mid]!.offset < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
