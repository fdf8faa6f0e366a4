import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createEventCodec, traceKey } from '@aispm/core';
import { KafkaBus, kafkajs } from '@aispm/bus';
import { ChdbStore } from '@aispm/store';
import { generateTraffic } from '@aispm/cli';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { until } from '../support/until.ts';
import {
  dataDir,
  lastLogs,
  pipelineCommitted,
  readScores,
  restoredState,
  spawnUp,
  tearDown,
  upEnv,
  upTopics,
  withTwinTenant,
} from './support.ts';

/**
 * The rollups never double count across a crash (issue 22): `aispm up` (distributed:
 * the test's Kafka broker, chdb for the store) is SIGKILLed mid-stream and started
 * again; after the replay no event or score is stored twice, and no per-minute rollup
 * row counts more than its source table holds for it when each row is counted once
 * (FINAL).
 *
 * Not asserted: that each rollup row reaches its source's figures. A kill after an
 * insert's rows reached the table but before its materialized views' rows reached
 * theirs (the engine commits them one after another) leaves those rows out of the
 * rollups when the batch replayed after the restart is cut at other offsets (a Kafka
 * fetch): its tokens differ, and the probe of stored events (Stage.fresh) keeps the
 * stored events out of the inserts, so their view rows are never written. Seen in
 * about one run in five here. A replay of the same batch (same token) repairs them:
 * the engine sends a deduplicated block on to the views (test/store/dedup.test.ts).
 */
const brokers = inject('kafkaBrokers');
const run = randomUUID().slice(0, 8);
const PARTITIONS = 3;
const traffic = withTwinTenant(
  [...generateTraffic({ seed: 23, total: 2000, tenant: 'acme', spanMs: 4 * 3_600_000, endMs: Date.now() - 60_000 })],
  'globex',
  200,
);
const bus = new KafkaBus({ brokers });
const admin = new kafkajs.Kafka({ brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();
const dir = dataDir('kill-rollups');
const topics = upTopics(`kr.${run}`);
const group = `kr-${run}`;
const env = upEnv({ brokers, dataDir: dir, topics, group, partitions: PARTITIONS, batch: 100 });
let scored = 0;

beforeAll(async () => {
  await admin.connect();
  await bus.ensureTopics([
    { topic: topics.events, partitions: PARTITIONS },
    { topic: topics.scores, partitions: PARTITIONS },
    { topic: topics.findings, partitions: PARTITIONS },
    { topic: topics.deadLetter, partitions: 1 },
    { topic: topics.state, partitions: PARTITIONS, compacted: true },
    { topic: topics.attributed, partitions: PARTITIONS },
    { topic: topics.traceState, partitions: PARTITIONS, compacted: true },
    { topic: topics.entities, partitions: PARTITIONS },
    { topic: topics.entityState, partitions: PARTITIONS, compacted: true },
  ]);
  const codec = createEventCodec();
  await bus.publish(
    topics.events,
    traffic.map((event) => ({ key: traceKey(event), value: codec.encode(event) })),
  );
  await readScores(bus, topics.scores, `kr-reader-${run}`, () => void scored++);
});

afterAll(() => tearDown(bus, admin));

/** Each rollup's rows, and the same figures computed from its source table counting each row once. */
const PAIRS = {
  events: [
    `SELECT tenant, minute, app, agent, model, kind, countMerge(events) AS n, sumMerge(errors) AS errors,
            sumMerge(input_tokens) AS tin, sumMerge(output_tokens) AS tout
     FROM events_per_minute GROUP BY ALL ORDER BY ALL`,
    `SELECT tenant, toDateTime(toStartOfMinute(time), 'UTC') AS minute, app, agent,
            if(response_model != '', response_model, request_model) AS model, kind, count() AS n,
            sum(toUInt64(status = 'error')) AS errors, sum(toUInt64(ifNull(input_tokens, 0))) AS tin,
            sum(toUInt64(ifNull(output_tokens, 0))) AS tout
     FROM events FINAL GROUP BY ALL ORDER BY ALL`,
  ],
  scores: [
    `SELECT tenant, minute, app, agent, entity_type, countMerge(scores) AS n, sumMerge(flagged) AS flagged,
            sumMerge(learning_scores) AS learning_n
     FROM anomaly_scores_per_minute GROUP BY ALL ORDER BY ALL`,
    `SELECT tenant, toDateTime(toStartOfMinute(time), 'UTC') AS minute, app, agent, entity_type, count() AS n,
            sum(toUInt64(score >= 0.8 AND NOT learning)) AS flagged, sum(toUInt64(learning)) AS learning_n
     FROM anomaly_scores FINAL GROUP BY ALL ORDER BY ALL`,
  ],
} as const;

/** Group columns of the rollup queries; the rest are counts and sums. */
const FIGURES = new Set(['n', 'errors', 'tin', 'tout', 'flagged', 'learning_n']);

/**
 * The rollup rows with a figure above the source's for the same group (a double count),
 * or a group the source lacks. A rollup row may fall short of its source (see the
 * test's comment): that is not looked at here.
 */
function overCounted(rolled: Record<string, string>[], counted: Record<string, string>[]): unknown[] {
  const key = (row: Record<string, string>): string =>
    JSON.stringify(Object.entries(row).filter(([name]) => !FIGURES.has(name)));
  const sources = new Map(counted.map((row) => [key(row), row]));
  return rolled.filter((row) => {
    const source = sources.get(key(row));
    return (
      source === undefined ||
      Object.entries(row).some(([name, value]) => FIGURES.has(name) && Number(value) > Number(source[name]))
    );
  });
}

describe(`rollups across a processor kill on ${inject('kafkaLabel')}`, () => {
  it('after a SIGKILL mid-stream and a restart, no rollup counts more than its source counted once', async () => {
    const total = traffic.length;
    const first = spawnUp('kr-first', env);
    await until(() => scored >= total / 3, 'a third of the stream scored', {
      timeoutMs: 120_000,
      everyMs: 20,
      context: lastLogs(first),
    });
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe(null);
    const second = spawnUp('kr-second', env);
    await until(() => pipelineCommitted(admin, topics, group), 'the whole stream committed after the restart', {
      timeoutMs: 120_000,
      everyMs: 50,
      context: lastLogs(second),
    });
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    // The second process started from the checkpoints, not from zero.
    expect(restoredState(second).keys).toBeGreaterThan(0);

    const store = await ChdbStore.open({ path: join(dir, 'chdb'), database: 'aispm' });
    try {
      // No FINAL: a row stored twice would show before any merge.
      const [rows] = await store.query<{
        events: string;
        distinct_events: string;
        scores: string;
        distinct_scores: string;
      }>(
        `SELECT (SELECT count() FROM events) AS events, (SELECT uniqExact(tenant, event_id) FROM events) AS distinct_events,
                (SELECT count() FROM anomaly_scores) AS scores,
                (SELECT uniqExact(tenant, event_id) FROM anomaly_scores) AS distinct_scores`,
      );
      expect(rows).toEqual({
        events: String(total),
        distinct_events: String(total),
        scores: String(total),
        distinct_scores: String(total),
      });
      for (const [rollup, source] of Object.values(PAIRS)) {
        const rolled = await store.query<Record<string, string>>(rollup);
        const counted = await store.query<Record<string, string>>(source);
        expect(rolled.length).toBeGreaterThan(0);
        expect(overCounted(rolled, counted)).toEqual([]);
      }
    } finally {
      await store.close();
    }
  }, 300_000);
});
