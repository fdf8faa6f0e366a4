import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createEventCodec, traceKey } from '@aispm/core';
import { KafkaBus, kafkajs } from '@aispm/bus';
import { ChdbStore } from '@aispm/store';
import { generateTraffic } from '@aispm/cli';
import type { AnomalyScoreRecord } from '@aispm/processor';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { until } from '../support/until.ts';
import {
  pipelineCommitted,
  dataDir,
  lastLogs,
  readScores,
  restoredState,
  scoresOfStream,
  spawnUp,
  tearDown,
  tenantEventId,
  upEnv,
  upTopics,
  withTwinTenant,
  type Up,
  type UpTopics,
} from './support.ts';

/**
 * The processor survives a crash: `aispm up` (distributed: the test's Kafka broker,
 * chdb for the store) is SIGKILLed mid-stream and started again. Its state comes
 * back from the compacted changelog, so the scores after the restart equal those
 * of an uninterrupted run of the same stream, and no event is scored twice into
 * the store. The stream is two tenants' whose spans share trace and span ids (hence
 * event ids): each tenant's events are stored and scored, on their own baselines,
 * across the replay that follows the kill.
 */
const brokers = inject('kafkaBrokers');
const run = randomUUID().slice(0, 8);
const PARTITIONS = 3;
const traffic = withTwinTenant(
  [...generateTraffic({ seed: 11, total: 3000, tenant: 'acme', spanMs: 6 * 3_600_000, endMs: Date.now() - 60_000 })],
  'globex',
  300,
);
const bus = new KafkaBus({ brokers });
const admin = new kafkajs.Kafka({ brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();

interface Run {
  name: string;
  dataDir: string;
  topics: UpTopics;
  group: string;
  env: NodeJS.ProcessEnv;
  scores: Map<string, AnomalyScoreRecord>;
}

function newRun(name: string): Run {
  const dir = dataDir(`restart-${name}`);
  const topics = upTopics(`rs.${name}.${run}`);
  const group = `rs-${name}-${run}`;
  return {
    name,
    dataDir: dir,
    topics,
    group,
    scores: new Map(),
    // Small batches: many checkpoints, so the kill lands between them.
    env: upEnv({ brokers, dataDir: dir, topics, group, partitions: PARTITIONS, batch: 100 }),
  };
}

const up = (r: Run): Up => spawnUp(r.name, r.env);

const committed = (r: Run): Promise<boolean> => pipelineCommitted(admin, r.topics, r.group);

const reference = newRun('ref');
const restarted = newRun('kill');

beforeAll(async () => {
  await admin.connect();
  const codec = createEventCodec();
  const records = traffic.map((event) => ({ key: traceKey(event), value: codec.encode(event) }));
  for (const r of [reference, restarted]) {
    // All of them here, as `up` would: two children creating topics at once trip over each other's metadata.
    await bus.ensureTopics([
      { topic: r.topics.events, partitions: PARTITIONS },
      { topic: r.topics.scores, partitions: PARTITIONS },
      { topic: r.topics.findings, partitions: PARTITIONS },
      { topic: r.topics.deadLetter, partitions: 1 },
      { topic: r.topics.state, partitions: PARTITIONS, compacted: true },
      { topic: r.topics.attributed, partitions: PARTITIONS },
      { topic: r.topics.traceState, partitions: PARTITIONS, compacted: true },
      { topic: r.topics.entities, partitions: PARTITIONS },
      { topic: r.topics.entityState, partitions: PARTITIONS, compacted: true },
    ]);
    await bus.publish(r.topics.events, records);
    await readScores(bus, r.topics.scores, `rs-reader-${r.name}-${run}`, (score) =>
      r.scores.set(tenantEventId(score), score),
    );
  }
});

afterAll(() => tearDown(bus, admin));

describe(`processor restart on ${inject('kafkaLabel')}`, () => {
  it('after a SIGKILL mid-stream, restores state from the changelog: scores match an uninterrupted run, none stored twice', async () => {
    const total = traffic.length;
    const ref = up(reference);
    const first = up(restarted);
    await until(() => restarted.scores.size >= total / 4, 'a quarter of the stream scored', {
      timeoutMs: 120_000,
      everyMs: 20,
      context: lastLogs(first),
    });
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe(null);
    const scoredBeforeKill = restarted.scores.size;
    expect(scoredBeforeKill).toBeLessThan(total);

    const second = up(restarted);
    await until(() => committed(restarted), 'the whole stream committed after the restart', {
      timeoutMs: 120_000,
      everyMs: 20,
      context: lastLogs(second),
    });
    await until(() => committed(reference), 'the whole stream committed by the reference run', {
      timeoutMs: 120_000,
      everyMs: 20,
      context: lastLogs(ref),
    });
    expect(restarted.scores.size).toBe(total);
    expect(reference.scores.size).toBe(total);
    second.child.kill('SIGTERM');
    ref.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(await ref.exited).toBe(0);

    // The second process started from the checkpoints, not from zero.
    expect(restoredState(second).keys).toBeGreaterThan(0);

    const store = await ChdbStore.open({ path: join(restarted.dataDir, 'chdb'), database: 'aispm' });
    try {
      // No FINAL: a row scored twice would show before any merge.
      const counts = await store.query<{ tenant: string; rows: string; ids: string }>(
        `SELECT tenant, count() AS rows, uniqExact(event_id) AS ids FROM anomaly_scores GROUP BY tenant ORDER BY tenant`,
      );
      const perTenant = total / 2;
      expect(counts.map((c) => [c.tenant, Number(c.rows), Number(c.ids)])).toEqual([
        ['acme', perTenant, perTenant],
        ['globex', perTenant, perTenant],
      ]);
      const [events] = await store.query<{ acme: string; globex: string }>(
        `SELECT countIf(tenant = 'acme') AS acme, countIf(tenant = 'globex') AS globex FROM events`,
      );
      expect([Number(events?.acme), Number(events?.globex)]).toEqual([perTenant, perTenant]);

      const rows = await store.query<{ tenant: string; event_id: string; score: number; learning: boolean }>(
        'SELECT tenant, event_id, score, learning FROM anomaly_scores',
      );
      // What an uninterrupted agents stage makes of the same attributed stream (see scoresOfStream).
      const uninterrupted = await scoresOfStream(brokers, admin, restarted.topics.attributed);
      let worst = 0;
      let learningDiffers = 0;
      for (const row of rows) {
        const expected = uninterrupted.get(tenantEventId(row));
        expect(expected, tenantEventId(row)).toBeDefined();
        worst = Math.max(worst, Math.abs(Number(row.score) - expected!.score));
        if (Boolean(row.learning) !== expected!.learning) learningDiffers++;
      }
      // The store keeps Float32: equal up to its rounding.
      expect(worst).toBeLessThan(1e-6);
      expect(learningDiffers).toBe(0);
      // The comparison is not vacuous: the stream has anomalies the baselines must have learned to see.
      expect([...uninterrupted.values()].filter((s) => !s.learning && s.score > 0).length).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  }, 240_000);
});
