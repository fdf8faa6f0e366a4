import { describe, expect, it } from 'vitest';
import type { BusRecord } from '@aispm/bus';
import { cutCheckpoint, cutInto, cutKey, cutsOf, isCutKey, MAX_CUTS, withCut } from './cuts.ts';

const records = (from: number, to: number): BusRecord[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({
    topic: 't',
    partition: 0,
    offset: String(from + i),
    key: 'k',
    value: Buffer.alloc(0),
    headers: {},
    timestamp: 0,
  }));
const offsets = (segments: ReturnType<typeof cutInto>) =>
  segments.map((s) => ({
    from: s.records[0]!.offset,
    to: s.records.at(-1)!.offset,
    replay: s.replay,
    partial: s.partial,
  }));

describe('cuts', () => {
  it('cuts a replayed batch at the recorded cuts, so each is replayed as it was', () => {
    const cuts = [
      { first: '100', last: '199' },
      { first: '200', last: '249' },
    ];
    expect(offsets(cutInto(records(100, 320), cuts))).toEqual([
      { from: '100', to: '199', replay: true, partial: false },
      { from: '200', to: '249', replay: true, partial: false },
      { from: '250', to: '320', replay: false, partial: false },
    ]);
    // A fetch cut short inside the last recorded cut: that part cannot be replayed as it was.
    expect(offsets(cutInto(records(200, 230), cuts))).toEqual([
      { from: '200', to: '230', replay: false, partial: true },
    ]);
    expect(offsets(cutInto(records(300, 310), cuts))).toEqual([
      { from: '300', to: '310', replay: false, partial: false },
    ]);
    expect(cutInto([], cuts)).toEqual([]);
  });

  it('keeps the newest cuts, drops those a new cut overlaps, and reads back what it wrote', () => {
    let cuts = [{ first: '0', last: '9' }];
    for (let i = 1; i < 10; i++) cuts = withCut(cuts, { first: String(i * 10), last: String(i * 10 + 9) });
    expect(cuts).toHaveLength(MAX_CUTS);
    expect(cuts.at(-1)).toEqual({ first: '90', last: '99' });
    // A redelivery recorded again from an earlier offset replaces the cuts it overlaps.
    expect(withCut(cuts, { first: '85', last: '120' }).at(-2)).toEqual({ first: '70', last: '79' });
    const checkpoint = cutCheckpoint('kafka:t', 3, cuts);
    expect(checkpoint.key).toBe(cutKey(3));
    expect(isCutKey(checkpoint.key)).toBe(true);
    expect(isCutKey('acme/app/agent')).toBe(false);
    expect(checkpoint.offset).toBe('99');
    expect(cutsOf(checkpoint)).toEqual(cuts);
    expect(cutsOf({ ...checkpoint, snapshot: Buffer.from('not json') })).toEqual([]);
  });
});
