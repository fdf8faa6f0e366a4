import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { ChdbStore, KafkaBus, createEventCodec, eventKey } from '@aispm/core';
import { generateTraffic } from '@aispm/cli';
import { createScoreCodec, type AnomalyScoreRecord } from '@aispm/processor';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { until } from '../support/until.ts';
import { children, committedAll, spawnUp, type Up } from './support.ts';

/**
 * The processor survives a crash: `aispm up` (distributed: the test's Kafka broker,
 * chdb for the store) is SIGKILLed mid-stream and started again. Its state comes
 * back from the compacted changelog, so the scores after the restart equal those
 * of an uninterrupted run of the same stream, and no event is scored twice into
 * the store.
 */
const brokers = inject('kafkaBrokers');
const run = randomUUID().slice(0, 8);
const PARTITIONS = 3;
const traffic = [
  ...generateTraffic({ seed: 11, total: 6000, tenant: 'acme', spanMs: 6 * 3_600_000, endMs: Date.now() - 60_000 }),
];
const dirs: string[] = [];
const bus = new KafkaBus({ brokers });
const scoreCodec = createScoreCodec();
const admin = new kafkajs.Kafka({ brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();

interface Run {
  name: string;
  dataDir: string;
  env: NodeJS.ProcessEnv;
  events: string;
  scores: Map<string, AnomalyScoreRecord>;
}

function newRun(name: string): Run {
  const dataDir = mkdtempSync(join(tmpdir(), `aispm-restart-${name}-`));
  dirs.push(dataDir);
  const topic = (what: string): string => `rs.${name}.${what}.${run}`;
  return {
    name,
    dataDir,
    events: topic('events'),
    scores: new Map(),
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      AISPM_MODE: 'distributed',
      AISPM_STORE: 'chdb',
      AISPM_DATA_DIR: dataDir,
      KAFKA_BROKERS: brokers.join(','),
      AISPM_PARTITIONS: String(PARTITIONS),
      AISPM_TOPIC_EVENTS: topic('events'),
      AISPM_TOPIC_SCORES: topic('scores'),
      AISPM_TOPIC_FINDINGS: topic('findings'),
      AISPM_TOPIC_STATE: topic('state'),
      AISPM_TOPIC_DEAD_LETTER: topic('dlq'),
      AISPM_PROCESSOR_GROUP: `rs-${name}-${run}`,
      // Small batches: many checkpoints, so the kill lands between them.
      AISPM_PROCESSOR_BATCH: '100',
      // The killed member never leaves the group; the broker's minimum session keeps the takeover quick.
      AISPM_KAFKA_SESSION_TIMEOUT_MS: '6000',
      AISPM_LOG_LEVEL: 'info',
    },
  };
}

const up = (r: Run): Up => spawnUp(r.env);

const committed = (r: Run): Promise<boolean> => committedAll(admin, r.events, r.env.AISPM_PROCESSOR_GROUP!);

const reference = newRun('ref');
const restarted = newRun('kill');

beforeAll(async () => {
  await admin.connect();
  const codec = createEventCodec();
  const records = traffic.map((event) => ({ key: eventKey(event), value: codec.encode(event) }));
  for (const r of [reference, restarted]) {
    // All of them here, as `up` would: two children creating topics at once trip over each other's metadata.
    await bus.ensureTopics([
      { topic: r.events, partitions: PARTITIONS },
      { topic: r.env.AISPM_TOPIC_SCORES!, partitions: PARTITIONS },
      { topic: r.env.AISPM_TOPIC_FINDINGS!, partitions: PARTITIONS },
      { topic: r.env.AISPM_TOPIC_DEAD_LETTER!, partitions: 1 },
      { topic: r.env.AISPM_TOPIC_STATE!, partitions: PARTITIONS, compacted: true },
    ]);
    await bus.publish(r.events, records);
    await bus.subscribe({
      topic: r.env.AISPM_TOPIC_SCORES!,
      group: `rs-reader-${r.name}-${run}`,
      handler: (batch) => {
        for (const record of batch.records) {
          const score = scoreCodec.decode(record.value);
          r.scores.set(score.event_id, score);
        }
        return Promise.resolve();
      },
    });
  }
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await bus.close();
  await admin.disconnect();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A child's last log lines, for a timeout's message. */
const lastLogs = (child: { logs: string[] }) => (): string => `last logs:\n${child.logs.slice(-20).join('\n')}`;

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
    const restoredKeys = second.logs
      .filter((line) => line.includes('state restored'))
      .map((line) => (JSON.parse(line) as { keys: number }).keys)
      .reduce((a, b) => a + b, 0);
    expect(restoredKeys).toBeGreaterThan(0);

    const store = await ChdbStore.open({ path: join(restarted.dataDir, 'chdb'), database: 'aispm' });
    try {
      // No FINAL: a row scored twice would show before any merge.
      const [counts] = await store.query<{ rows: string; ids: string; events: string }>(
        `SELECT count() AS rows, uniqExact(event_id) AS ids, (SELECT count() FROM events) AS events FROM anomaly_scores`,
      );
      expect(Number(counts?.rows)).toBe(total);
      expect(Number(counts?.ids)).toBe(total);
      expect(Number(counts?.events)).toBe(total);

      const rows = await store.query<{ event_id: string; score: number; learning: boolean }>(
        'SELECT event_id, score, learning FROM anomaly_scores',
      );
      let worst = 0;
      let learningDiffers = 0;
      for (const row of rows) {
        const expected = reference.scores.get(row.event_id);
        expect(expected, row.event_id).toBeDefined();
        worst = Math.max(worst, Math.abs(Number(row.score) - expected!.score));
        if (Boolean(row.learning) !== expected!.learning) learningDiffers++;
      }
      // The store keeps Float32: equal up to its rounding.
      expect(worst).toBeLessThan(1e-6);
      expect(learningDiffers).toBe(0);
      // The comparison is not vacuous: the stream has anomalies the baselines must have learned to see.
      expect([...reference.scores.values()].filter((s) => !s.learning && s.score > 0).length).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  }, 240_000);
});
