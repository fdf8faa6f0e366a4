import { randomUUID } from 'node:crypto';
import { KafkaBus, type BusRecord } from '@aispm/bus';

/**
 * Reads `topic` from its beginning, in a consumer group of its own, until at least
 * `count` records have arrived, and returns every record received by then (a batch
 * may carry more than `count`). Past `timeoutMs` it fails, saying how many came.
 */
export async function readTopic(
  brokers: string[],
  topic: string,
  count: number,
  { timeoutMs = 30_000 }: { timeoutMs?: number } = {},
): Promise<BusRecord[]> {
  const bus = new KafkaBus({ brokers, log: () => undefined, consumer: { maxWaitTimeMs: 100 } });
  const records: BusRecord[] = [];
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`timed out reading ${count} records off ${topic}; got ${records.length}`)),
        timeoutMs,
      );
      bus
        .subscribe({
          topic,
          group: `read-${topic}-${randomUUID().slice(0, 8)}`,
          handler: (batch) => {
            records.push(...batch.records);
            if (records.length >= count) resolve();
            return Promise.resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    clearTimeout(timer);
    await bus.close();
  }
  return records;
}
