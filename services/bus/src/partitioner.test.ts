import fc from 'fast-check';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { partitionMetadata as metadataOf } from './testing/kafkajs.ts';
import { murmur2, partitionForKey } from '@aispm/core';

describe('partitionForKey', () => {
  it("matches the Java client's murmur2 on Kafka's own test vectors", () => {
    // From Kafka's UtilsTest#testMurmur2.
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of vectors) expect(murmur2(Buffer.from(key)), key).toBe(hash);
  });

  it("picks the partition kafkajs's DefaultPartitioner picks, for any key and partition count", () => {
    const partitioner = kafkajs.Partitioners.DefaultPartitioner();
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.integer({ min: 1, max: 64 }), (key, n) => {
        const partitionMetadata = metadataOf(n);
        const expected = partitioner({ topic: 't', partitionMetadata, message: { key, value: null } });
        expect(partitionForKey(key, n)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });
});
