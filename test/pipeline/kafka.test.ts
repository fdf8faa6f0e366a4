import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { createEventCodec, eventKey, loadConfig } from '@aispm/core';
import { KafkaBus, type BusRecord } from '@aispm/bus';
import { ChdbStore, migrate } from '@aispm/store';
import { generateTraffic } from '@aispm/cli';
import { Processor, createScoreCodec, fleetViews } from '@aispm/processor';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { until } from '../support/until.ts';

/**
 * The walking skeleton in distributed mode: events → a real Kafka broker →
 * processor (a consumer-group member) → the ClickHouse engine; scores come back
 * out on the scores topic, and the events re-keyed by fleet entity reach the
 * entities stage through the broker.
 */
const brokers = inject('kafkaBrokers');
const run = randomUUID().slice(0, 8);
const config = loadConfig({
  AISPM_MODE: 'distributed',
  KAFKA_BROKERS: brokers.join(','),
  AISPM_TOPIC_EVENTS: `it.events.${run}`,
  AISPM_TOPIC_SCORES: `it.scores.${run}`,
  AISPM_TOPIC_FINDINGS: `it.findings.${run}`,
  AISPM_TOPIC_DEAD_LETTER: `it.dlq.${run}`,
  AISPM_TOPIC_ENTITIES: `it.entities.${run}`,
});
const codec = createEventCodec();
const dir = mkdtempSync(join(tmpdir(), 'aispm-kafka-pipeline-'));
const bus = new KafkaBus({ brokers });
let store: ChdbStore;
let processor: Processor;
let entities: Processor;
const scores: BusRecord[] = [];
const traffic = [
  ...generateTraffic({ seed: 5, total: 1500, tenant: 'acme', spanMs: 3_600_000, endMs: Date.now() - 60_000 }),
];

beforeAll(async () => {
  store = await ChdbStore.open({ path: join(dir, 'chdb'), database: 'aispm' });
  await migrate(store);
  const { topics } = config;
  await bus.ensureTopics([
    { topic: topics.events, partitions: 3 },
    { topic: topics.scores, partitions: 3 },
    { topic: topics.findings, partitions: 3 },
    { topic: topics.deadLetter, partitions: 1 },
    { topic: topics.entities, partitions: 3 },
  ]);
  await bus.subscribe({
    topic: topics.scores,
    group: `it-scores-${run}`,
    handler: (batch) => {
      scores.push(...batch.records);
      return Promise.resolve();
    },
  });
  processor = new Processor({ bus, store, topics, topic: topics.events, group: `it-processor-${run}`, fleet: true });
  entities = new Processor({ bus, store, topics, group: `it-processor-${run}`, stage: 'entities' });
  await Promise.all([processor.start(), entities.start()]);
});

afterAll(async () => {
  await processor?.stop();
  await entities?.stop();
  await bus.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe(`distributed pipeline on ${inject('kafkaLabel')}`, () => {
  it('carries every event from the broker into the store, and its score back onto the scores topic', async () => {
    await bus.publish(
      config.topics.events,
      traffic.map((event) => ({ key: eventKey(event), value: codec.encode(event) })),
    );
    await until(async () => {
      const [row] = await store.query<{ n: string }>('SELECT count() AS n FROM events FINAL');
      return Number(row?.n) === traffic.length;
    }, 'every event in the store');
    await until(() => scores.length >= traffic.length, 'a score per event on the scores topic');

    const scoreCodec = createScoreCodec();
    const decoded = scores.map((record) => scoreCodec.decode(record.value));
    expect(new Set(decoded.map((s) => s.event_id))).toEqual(new Set(traffic.map((e) => e.event_id)));
    for (const s of decoded) {
      expect(s.score).toBeGreaterThanOrEqual(0);
      expect(s.score).toBeLessThanOrEqual(1);
    }
    // One agent's events share a key, so one partition, so one ordered scorer: its scores come in event order.
    const triage = decoded.filter((s) => s.agent === 'triage-bot').map((s) => s.time);
    expect(triage).toEqual([...triage].sort((a, b) => a - b));

    // Each event, once per user, identity, model and tool it involves, in the fleet baselines.
    const views = traffic.flatMap((event) => fleetViews(event));
    await until(() => entities.stats().stored === views.length, 'the entities stage to fold every event');
    expect(entities.stats().entities).toBe(new Set(views.map((v) => v.key)).size);
    expect(entities.stats().deadLettered).toEqual({});
  });
});
