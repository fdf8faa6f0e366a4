import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fc from 'fast-check';
import type { Message, PartitionerArgs } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { partitionMetadata as metadataOf, upstreamModule } from './testing/kafkajs.ts';
import { groupMessagesPerPartition } from './kafkajs-grouping.ts';
import { partitionForKey } from '@aispm/core';

type Grouping = typeof groupMessagesPerPartition;

const partitioner = ({ partitionMetadata, message }: PartitionerArgs): number =>
  partitionForKey(String(message.key), partitionMetadata.length);

describe('groupMessagesPerPartition', () => {
  it("groups like kafkajs 2.2.4's own, in the same order", () => {
    const original = upstreamModule<Grouping>('kafkajs/src/producer/groupMessagesPerPartition.js');
    expect(original).not.toBe(groupMessagesPerPartition);
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 8 }), { maxLength: 60 }),
        fc.integer({ min: 0, max: 8 }),
        (keys, n) => {
          const partitionMetadata = metadataOf(n);
          const messages: Message[] = keys.map((key, i) => ({ key, value: String(i) }));
          const args = { topic: 't', partitionMetadata, messages, partitioner };
          expect(groupMessagesPerPartition(args)).toEqual(original(args));
        },
      ),
    );
  });

  it('is what kafkajs uses in a process that loads it through @aispm/bus', async () => {
    const script = "import('@aispm/bus').then((bus) => console.log(JSON.stringify(bus.kafkajsFixes)))";
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { cwd: import.meta.dirname });
    expect(JSON.parse(stdout)).toEqual({
      linearGrouping: true,
      fastEncoder: true,
      fastCrc32c: true,
      requestQueue: true,
    });
  });
});
