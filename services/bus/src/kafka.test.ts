import { createServer } from 'node:net';
import { kafkajs } from './kafkajs.ts';
import type { Admin } from 'kafkajs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { busContract } from './bus.contract.ts';
import { KafkaBus, type KafkaBusOptions } from './kafka.ts';

const brokers = inject('kafkaBrokers');
const label = inject('kafkaLabel');

/** Every warning this test process sees; kafkajs must add none. */
const warnings: Error[] = [];
process.on('warning', (warning) => warnings.push(warning));

/** Short timings so joins and rebalances take well under a second; 6 s is the least session a broker allows. */
const options: KafkaBusOptions = {
  brokers,
  clientId: 'aispm-test',
  log: () => undefined,
  consumer: { sessionTimeoutMs: 6000, heartbeatIntervalMs: 300, rebalanceTimeoutMs: 10_000, maxWaitTimeMs: 100 },
};

let admin: Admin | undefined;
async function adminClient(): Promise<Admin> {
  if (!admin) {
    admin = new kafkajs.Kafka({ brokers, clientId: 'aispm-test-admin', logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
  }
  return admin;
}
afterAll(async () => {
  await admin?.disconnect();
});

busContract({
  name: `kafka — ${label}`,
  create: () => Promise.resolve(new KafkaBus(options)),
  timeoutMs: 30_000,
  // Read back from the broker with a separate admin client, not through the bus under test.
  describeTopic: async (_bus, topic) => {
    const client = await adminClient();
    if (!(await client.listTopics()).includes(topic)) return undefined;
    const [metadata] = (await client.fetchTopicMetadata({ topics: [topic] })).topics;
    const { resources } = await client.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic, configNames: ['cleanup.policy'] }],
    });
    const policy = resources[0]?.configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue;
    return { partitions: metadata!.partitions.length, compacted: policy === 'compact' };
  },
});

describe(`KafkaBus — ${label}`, () => {
  it("reads a group's backlog off the brokers: the lag grows with publishes and falls to 0 as the group commits", async () => {
    const bus = new KafkaBus(options);
    const topic = `backlog-${Date.now()}`;
    try {
      await bus.ensureTopics([{ topic, partitions: 2 }]);
      const value = Buffer.alloc(100);
      await bus.publish(topic, [{ key: 'a', value }]);
      let hold = true;
      let seen = 0;
      const sub = await bus.subscribe({
        topic,
        group: `${topic}-g`,
        handler: async (batch) => {
          while (hold) await new Promise((resolve) => setTimeout(resolve, 20));
          seen += batch.records.length;
        },
      });
      // The group has committed nothing yet: no backlog, as on the embedded buses.
      expect(bus.backlog(topic, `${topic}-g`).records).toBe(0);
      hold = false;
      await waitFor(() => seen === 1);
      hold = true;
      await bus.publish(
        topic,
        Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value })),
      );
      await waitFor(() => bus.backlog(topic, `${topic}-g`).records >= 39);
      expect(bus.backlog(topic, `${topic}-g`).bytes).toBeGreaterThanOrEqual(39 * 100);
      hold = false;
      await waitFor(() => bus.backlog(topic, `${topic}-g`).records === 0);
      await sub.stop();
    } finally {
      await bus.close();
    }
  });

  it('fails to connect with an AispmError that names the brokers and what to check', async () => {
    const port = await closedPort();
    const bus = new KafkaBus({ ...options, brokers: [`127.0.0.1:${port}`], retries: 1 });
    const error = await bus.ensureTopics([{ topic: 't', partitions: 1 }]).catch((err: unknown) => err);
    await bus.close();
    expect(error).toMatchObject({ name: 'AispmError', code: 'kafka_unreachable' });
    expect((error as Error).message).toContain(`127.0.0.1:${port}`);
    expect((error as Error).message).toContain('ECONNREFUSED');
    expect((error as Error).message).toContain('KAFKA_BROKERS');
  });

  it('with concurrency, handles batches of different partitions at once, and one partition in order', async () => {
    const bus = new KafkaBus(options);
    const topic = `kafka.concurrent.${Date.now()}`;
    await bus.ensureTopics([{ topic, partitions: 4 }]);
    const keys = Array.from({ length: 40 }, (_, i) => `key-${i}`);
    await bus.publish(
      topic,
      keys.flatMap((key) => [0, 1, 2].map((n) => ({ key, value: Buffer.from(String(n)) }))),
    );
    const inHandler = new Set<number>();
    let most = 0;
    const seen = new Map<string, string[]>();
    const done = Promise.withResolvers<void>();
    let count = 0;
    const sub = await bus.subscribe({
      topic,
      group: `${topic}.g`,
      maxBatchSize: 5,
      concurrency: 4,
      handler: async ({ partition, records }) => {
        expect(inHandler.has(partition)).toBe(false);
        inHandler.add(partition);
        most = Math.max(most, inHandler.size);
        await new Promise((resolve) => setTimeout(resolve, 20));
        for (const r of records) seen.set(r.key, [...(seen.get(r.key) ?? []), r.value.toString()]);
        inHandler.delete(partition);
        count += records.length;
        if (count === keys.length * 3) done.resolve();
      },
    });
    await done.promise;
    await sub.stop();
    await bus.close();
    expect(most).toBeGreaterThan(1);
    for (const key of keys) expect(seen.get(key)).toEqual(['0', '1', '2']);
  });

  it('publishes more than the brokers take in one request, in order, and refuses a single record that is too big', async () => {
    const bus = new KafkaBus(options);
    const topic = `kafka.large.${Date.now()}`;
    await bus.ensureTopics([{ topic, partitions: 1 }]);
    // 3 MiB for one partition: three times the broker's 1 MiB batch limit (refused when sent as one request).
    const records = Array.from({ length: 3072 }, (_, i) => ({ key: 'k', value: Buffer.alloc(1024, i % 251) }));
    await bus.publish(topic, records);
    const offsets = await (await adminClient()).fetchTopicOffsets(topic);
    expect(offsets[0]?.high).toBe('3072');
    const all = Promise.withResolvers<Buffer[]>();
    const got: Buffer[] = [];
    const sub = await bus.subscribe({
      topic,
      group: `${topic}.g`,
      handler: ({ records: batch }) => {
        for (const r of batch) got.push(r.value);
        if (got.length === records.length) all.resolve(got);
        return Promise.resolve();
      },
    });
    const values = await all.promise;
    await sub.stop();
    expect(values.map((v) => v[0])).toEqual(records.map((r) => r.value[0]));
    const huge = bus.publish(topic, [{ key: 'k', value: Buffer.alloc(2 * 1024 * 1024) }]);
    await expect(huge).rejects.toMatchObject({ code: 'kafka_record_too_large' });
    await expect(huge).rejects.toThrow(/message\.max\.bytes/);
    await bus.close();
  }, 30_000);

  it('keeps a member in its group through a batch that outlasts the session timeout', async () => {
    const bus = new KafkaBus(options);
    const topic = `kafka.long.${Date.now()}`;
    const group = `${topic}.g`;
    await bus.ensureTopics([{ topic, partitions: 1 }]);
    await bus.publish(topic, [{ key: 'k', value: Buffer.from('slow') }]);
    let calls = 0;
    const handled = Promise.withResolvers<void>();
    const sub = await bus.subscribe({
      topic,
      group,
      handler: async () => {
        calls++;
        await new Promise((resolve) => setTimeout(resolve, 7500));
        handled.resolve();
      },
    });
    await handled.promise;
    await sub.stop();
    const [offsets] = await (await adminClient()).fetchOffsets({ groupId: group, topics: [topic] });
    expect(offsets?.partitions).toEqual([{ partition: 0, offset: '1', metadata: null }]);
    expect(calls).toBe(1);
    await bus.close();
  }, 30_000);

  it('lets two buses create the same topics at the same moment; both can publish right after', async () => {
    const a = new KafkaBus(options);
    const b = new KafkaBus(options);
    try {
      // Connected first, so both create requests reach the broker together.
      await Promise.all([
        a.ensureTopics([{ topic: `kafka.race.warmup.${Date.now()}`, partitions: 1 }]),
        b.ensureTopics([]),
      ]);
      // Several rounds: one round may miss the window where one creator sees the other's half-made topics.
      for (let round = 0; round < 10; round++) {
        const base = `kafka.race.${Date.now()}.${round}`;
        const specs = [
          { topic: `${base}.events`, partitions: 4 },
          { topic: `${base}.scores`, partitions: 4 },
          { topic: `${base}.dlq`, partitions: 1 },
          { topic: `${base}.state`, partitions: 4, compacted: true },
        ];
        // b lists them in another order, so the two create requests overlap only in part.
        const results = await Promise.allSettled([a.ensureTopics(specs), b.ensureTopics([...specs].reverse())]);
        expect(results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok'))).toEqual(['ok', 'ok']);
        await Promise.all(
          specs.flatMap((s) => [
            a.publish(s.topic, [{ key: 'from-a', value: Buffer.from('a') }]),
            b.publish(s.topic, [{ key: 'from-b', value: Buffer.from('b') }]),
          ]),
        );
        const client = await adminClient();
        for (const spec of specs) {
          const offsets = await client.fetchTopicOffsets(spec.topic);
          expect(offsets.length, spec.topic).toBe(spec.partitions);
          // Both records are on the broker.
          expect(
            offsets.reduce((n, o) => n + Number(o.high), 0),
            spec.topic,
          ).toBe(2);
        }
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }, 60_000);

  it('adds no TimeoutNegativeWarning from kafkajs to the process', () => {
    expect(warnings.filter((w) => w.name === 'TimeoutNegativeWarning')).toEqual([]);
  });
});

/** A loopback port nothing listens on. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
