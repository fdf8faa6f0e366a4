import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import fc from 'fast-check';
import type { Message, PartitionerArgs } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { groupMessagesPerPartition } from './kafkajs-grouping.ts';
import { partitionForKey } from './partitioner.ts';

type Grouping = typeof groupMessagesPerPartition;

const require = createRequire(import.meta.url);
/** kafkajs's own module, read apart from the module cache so the installed fix does not stand in for it. */
function kafkajsGrouping(): Grouping {
  const path = require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js');
  const cached = require.cache[path];
  delete require.cache[path];
  try {
    return require(path) as Grouping;
  } finally {
    if (cached) require.cache[path] = cached;
  }
}

const partitioner = ({ partitionMetadata, message }: PartitionerArgs): number =>
  partitionForKey(String(message.key), partitionMetadata.length);

describe('groupMessagesPerPartition', () => {
  it("groups like kafkajs 2.2.4's own, in the same order", () => {
    const original = kafkajsGrouping();
    expect(original).not.toBe(groupMessagesPerPartition);
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 8 }), { maxLength: 60 }),
        fc.integer({ min: 0, max: 8 }),
        (keys, n) => {
          const partitionMetadata = Array.from({ length: n }, (_, i) => ({
            partitionId: i,
            leader: 0,
            partitionErrorCode: 0,
            replicas: [0],
            isr: [0],
          }));
          const messages: Message[] = keys.map((key, i) => ({ key, value: String(i) }));
          const args = { topic: 't', partitionMetadata, messages, partitioner };
          expect(groupMessagesPerPartition(args)).toEqual(original(args));
        },
      ),
    );
  });

  it('is what kafkajs uses in a process that loads it through @aispm/core', async () => {
    const script = "import('@aispm/core').then((core) => console.log(JSON.stringify(core.kafkajsFixes)))";
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { cwd: import.meta.dirname });
    expect(JSON.parse(stdout)).toEqual({
      linearGrouping: true,
      unzeroedEncoder: true,
      fastCrc32c: true,
      requestQueue: true,
    });
  });
});
