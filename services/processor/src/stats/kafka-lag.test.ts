import { kafkajs } from '@aispm/bus';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { KafkaPartitionLag } from './kafka-lag.ts';

/** Lag per partition against a real broker: end offsets less a group's committed offsets. */
const brokers = inject('kafkaBrokers');
const kafka = new kafkajs.Kafka({ brokers, logLevel: kafkajs.logLevel.NOTHING });
const admin = kafka.admin();
const producer = kafka.producer();
const lag = new KafkaPartitionLag({ brokers, clientId: 'kafka-lag-test' });
const topic = `aispm.kafka-lag.${Date.now()}`;

afterAll(async () => {
  await lag.close();
  await producer.disconnect();
  await admin.disconnect();
});

describe('KafkaPartitionLag', () => {
  it('is each partition’s end offset less the group’s committed offset; none for a group not reading yet', async () => {
    await Promise.all([admin.connect(), producer.connect()]);
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
    const messages = (partition: number, n: number) =>
      Array.from({ length: n }, (_, i) => ({ partition, key: `k${i}`, value: 'v' }));
    await producer.send({ topic, messages: [...messages(0, 5), ...messages(1, 2)] });
    await admin.setOffsets({ groupId: 'reader', topic, partitions: [{ partition: 0, offset: '2' }] });

    // Partition 0: 5 records, 2 committed; partition 1: nothing committed, from its start; 2: empty.
    expect([...(await lag.read(topic, 'reader'))].sort()).toEqual([
      [0, 3],
      [1, 2],
      [2, 0],
    ]);
    expect([...(await lag.read(topic, 'nobody'))].sort()).toEqual([
      [0, 0],
      [1, 0],
      [2, 0],
    ]);
    // The synchronous read answers from the background refresh once it has come back.
    expect(lag.lag(topic, 'reader')).toBeNull();
    while (lag.lag(topic, 'reader') === null) await new Promise((r) => setTimeout(r, 20));
    expect(lag.lag(topic, 'reader')?.get(0)).toBe(3);
  }, 60_000);
});
