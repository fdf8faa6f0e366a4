import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { ChdbStore, KafkaBus, createEventCodec, eventKey, loadConfig, migrate, type Row, type Store } from '@aispm/core';
import { generateTraffic } from '@aispm/cli';
import { Processor } from '@aispm/processor';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { until } from '../support/until.ts';

/**
 * The processor answers the bus once a batch is scored and writes it after, so
 * the partition's next batch is scored while the last one is written. When such a
 * write fails, the failed batch and every later one the bus handed over meanwhile
 * come again; what ends in the store must be exactly what a run without the
 * failure stores. Real broker, real engine; one store refuses one insert.
 */
const brokers = inject('kafkaBrokers');
const run = randomUUID().slice(0, 8);
const PARTITIONS = 2;
const config = loadConfig({
  AISPM_MODE: 'distributed',
  KAFKA_BROKERS: brokers.join(','),
  AISPM_TOPIC_EVENTS: `it.redelivery.events.${run}`,
  AISPM_TOPIC_SCORES: `it.redelivery.scores.${run}`,
  AISPM_TOPIC_FINDINGS: `it.redelivery.findings.${run}`,
  AISPM_TOPIC_DEAD_LETTER: `it.redelivery.dlq.${run}`,
});
const dir = mkdtempSync(join(tmpdir(), 'aispm-redelivery-'));
const bus = new KafkaBus({ brokers, retryBackoff: { initialMs: 50, maxMs: 200 } });
const traffic = [
  ...generateTraffic({ seed: 11, total: 2000, tenant: 'acme', spanMs: 3_600_000, endMs: Date.now() - 60_000 }),
];
let failing: ChdbStore;
let reference: ChdbStore;

/** The store, except that its `failAt`-th insert into anomaly_scores waits a little, then fails. */
function failingOnce(store: Store, failAt: number): Store & { failed: boolean } {
  let inserts = 0;
  const wrapped = Object.create(store) as Store & { failed: boolean };
  wrapped.failed = false;
  wrapped.insert = async (table: string, rows: readonly Row[]) => {
    if (table === 'anomaly_scores' && ++inserts === failAt) {
      // Long enough for the next batches to be fetched and scored meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 300));
      wrapped.failed = true;
      throw new Error('simulated insert failure');
    }
    return store.insert(table, rows);
  };
  return wrapped;
}

async function scoresOf(store: Store): Promise<Map<string, number>> {
  const rows = await store.query<{ event_id: string; score: number }>('SELECT event_id, score FROM anomaly_scores');
  return new Map(rows.map((r) => [r.event_id, r.score]));
}

beforeAll(async () => {
  failing = await ChdbStore.open({ path: join(dir, 'chdb'), database: 'failing' });
  // The same engine folder (one per process), another database.
  reference = await ChdbStore.open({ path: join(dir, 'chdb'), database: 'reference' });
  await Promise.all([migrate(failing), migrate(reference)]);
  const { topics } = config;
  await bus.ensureTopics([
    { topic: topics.events, partitions: PARTITIONS },
    { topic: topics.scores, partitions: PARTITIONS },
    { topic: topics.findings, partitions: PARTITIONS },
    { topic: topics.deadLetter, partitions: 1 },
  ]);
  const codec = createEventCodec();
  await bus.publish(
    topics.events,
    traffic.map((event) => ({ key: eventKey(event), value: codec.encode(event) })),
  );
});

afterAll(async () => {
  await bus.close();
  await failing?.close();
  await reference?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe(`processor redelivery on ${inject('kafkaLabel')}`, () => {
  it('a failed write brings back its batch and the ones scored after it: the store ends as without the failure', async () => {
    const { topics } = config;
    const store = failingOnce(failing, 3);
    const processors = [
      new Processor({ bus, store, topics, group: `it-redelivery-${run}`, maxBatchSize: 100 }),
      new Processor({ bus, store: reference, topics, group: `it-reference-${run}`, maxBatchSize: 100 }),
    ];
    await Promise.all(processors.map((p) => p.start()));
    try {
      const stored = async (s: Store): Promise<number> =>
        Number((await s.query<{ n: string }>('SELECT count() AS n FROM anomaly_scores'))[0]?.n);
      await until(async () => (await stored(failing)) >= traffic.length, 'every score despite the failure');
      await until(async () => (await stored(reference)) >= traffic.length, 'every score of the reference run');
    } finally {
      await Promise.all(processors.map((p) => p.stop()));
    }
    expect(store.failed).toBe(true);

    const [got, want] = await Promise.all([scoresOf(failing), scoresOf(reference)]);
    // Each event once: no batch written twice, none skipped.
    const [{ n } = { n: '' }] = await failing.query<{ n: string }>('SELECT count() AS n FROM anomaly_scores');
    expect(Number(n)).toBe(traffic.length);
    expect(got.size).toBe(traffic.length);
    // Scored from the same state as without the failure: the redelivery restored the checkpoint, not half-applied state.
    for (const [id, score] of want) expect(got.get(id), id).toBeCloseTo(score, 9);
  });
});
