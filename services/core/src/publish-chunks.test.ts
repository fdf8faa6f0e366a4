import { describe, expect, it } from 'vitest';
import { RECORD_OVERHEAD_BYTES, publishChunks, recordBytes } from './publish-chunks.ts';

const record = (bytes: number, key = 'k') => ({ key, value: Buffer.alloc(bytes) });

describe('publish chunks', () => {
  it('counts key, value, headers and framing', () => {
    expect(recordBytes({ key: 'ab', value: Buffer.alloc(10), headers: { h: 'xyz' } })).toBe(
      RECORD_OVERHEAD_BYTES + 2 + 10 + 1 + 3 + 8,
    );
  });

  it('keeps order and puts no chunk over the limit, except a record that is over it alone', () => {
    const records = [record(400), record(400), record(400), record(2000), record(10), record(10)];
    const chunks = publishChunks(records, 1000);
    expect(chunks.flat()).toEqual(records);
    expect(chunks.map((c) => c.length)).toEqual([2, 1, 1, 2]);
    for (const chunk of chunks.filter((c) => c.length > 1))
      expect(chunk.reduce((n, r) => n + recordBytes(r), 0)).toBeLessThanOrEqual(1000);
  });

  it('sends a small publish as one request', () => {
    expect(publishChunks([record(1), record(1)], 1000)).toHaveLength(1);
    expect(publishChunks([], 1000)).toEqual([]);
  });
});
