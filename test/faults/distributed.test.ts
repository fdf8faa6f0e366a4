import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { consumerGroups } from '@aispm/core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { until } from '../support/until.ts';
import {
  children,
  committedAll,
  dataDir,
  lastLogs,
  pipelineCommitted,
  upEnv,
  upTopics,
  type UpTopics,
} from '../processor/support.ts';
import { describeRun, KEY, ledger, startSending, startUp, TENANT } from './support.ts';

/**
 * The distributed fault suite: `aispm up` on the test's Kafka broker (chdb as
 * the store, so the test can read it) takes OTLP traffic and is stopped
 * mid-stream by kill -9 or Ctrl-C, three runs each; the next start takes up the
 * topic where the group committed. Every span answered 200 is stored once.
 */
const brokers = inject('kafkaBrokers');
const RUNS = 3;
const ACKED_BEFORE_FAULT = 4000;
const admin = new kafkajs.Kafka({ brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();

beforeAll(() => admin.connect());
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await admin.disconnect();
});

function distributedEnv(name: string): {
  env: NodeJS.ProcessEnv;
  dir: string;
  topics: UpTopics;
  group: string;
} {
  const id = randomUUID().slice(0, 8);
  const dir = dataDir(`faults-${name}`);
  const topics = upTopics(`faults.${name}.${id}`);
  const group = `faults-${name}-${id}`;
  const env = {
    ...upEnv({ brokers, dataDir: dir, topics, group, partitions: 4, batch: 1000 }),
    AISPM_GATEWAY_PORT: '0',
    AISPM_METRICS_PORT: '0',
    AISPM_GATEWAY_KEYS: `${TENANT}:${KEY}`,
  };
  return { env, dir, topics, group };
}

describe('distributed mode loses nothing it acknowledged', () => {
  for (const signal of ['SIGKILL', 'SIGINT'] as const) {
    for (let run = 1; run <= RUNS; run++) {
      it(
        `${signal === 'SIGKILL' ? 'kill -9' : 'Ctrl-C'} mid-stream, then a restart (run ${run} of ${RUNS})`,
        { timeout: 180_000 },
        async () => {
          const setup = distributedEnv(`${signal.toLowerCase()}-${run}`);
          const { up, url } = await startUp(`${signal}-${run}`, setup.env);
          const sending = startSending(url);
          await until(() => sending.sent.acked.size >= ACKED_BEFORE_FAULT, 'spans acknowledged before the fault', {
            timeoutMs: 60_000,
            context: lastLogs(up),
          });
          up.child.kill(signal);
          await up.exited;
          const sent = await sending.stop();

          const again = await startUp(`${signal}-${run}-restart`, setup.env);
          await until(
            async () =>
              (await pipelineCommitted(admin, setup.topics, setup.group)) &&
              (await committedAll(admin, setup.topics.entities, consumerGroups(setup.group).entities)),
            'the restarted processor to commit every record',
            { timeoutMs: 120_000, everyMs: 250, context: lastLogs(again.up) },
          );
          again.up.child.kill('SIGINT');
          expect(await again.up.exited, lastLogs(again.up)()).toBe(0);

          const counts = await ledger(join(setup.dir, 'chdb'), sent);
          console.log(describeRun(`distributed, ${signal}, run ${run}`, sent, counts));
          expect(counts.acked).toBeGreaterThanOrEqual(ACKED_BEFORE_FAULT);
          expect(counts).toMatchObject({ lost: 0, unknown: 0, duplicateEvents: 0, duplicateScores: 0 });
          expect(counts).toMatchObject({ orphanScores: 0, unscored: 0 });
        },
      );
    }
  }
});
