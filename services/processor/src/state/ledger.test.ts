import { describe, expect, it } from 'vitest';
import { PartitionLedger } from './ledger.ts';

describe('PartitionLedger', () => {
  it('skips events a key has already folded in, and only those', () => {
    const ledger = new PartitionLedger();
    const entry = ledger.restored(0, new Map([['a', 10n]]));
    expect(PartitionLedger.alreadyApplied(entry, 'a', 10n)).toBe(true);
    expect(PartitionLedger.alreadyApplied(entry, 'a', 11n)).toBe(false);
    expect(PartitionLedger.alreadyApplied(entry, 'b', 0n)).toBe(false);
  });

  it('sees a gap in offsets as state another member advanced, and forgets lost partitions', () => {
    const ledger = new PartitionLedger();
    const entry = ledger.restored(1, new Map([['a', 5n]]));
    expect(ledger.isStale(1, 100n)).toBe(false);
    entry.next = 6n;
    expect(ledger.isStale(1, 6n)).toBe(false);
    expect(ledger.isStale(1, 7n)).toBe(true);
    ledger.restored(2, new Map([['b', 1n]]));
    expect(ledger.notIn([2])).toEqual([1]);
    expect(ledger.forget([1])).toEqual(['a']);
    expect(ledger.has(1)).toBe(false);
  });
});
