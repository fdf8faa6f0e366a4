import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createFindingCodec, partitionForKey, silentLogger, type Finding } from '@aispm/core';
import { SqliteBus } from '@aispm/bus';
import {
  createDestination,
  createDispatcher,
  HttpReceiver,
  parseRoutes,
  startAlerter,
  type AlerterRef,
  type AlerterService,
} from '@aispm/alerter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../support/until.ts';
import { sampleFinding } from './support.ts';

/**
 * Two alerters in one consumer group on the embedded SQLite bus: a partition that moves
 * to the second while the first still holds a finding of it (waiting out group_wait) is
 * never committed by the first, even once it delivers that finding; the new owner reads
 * it again from the last commit and commits it once it has delivered it itself.
 */
const codec = createFindingCodec();
const SECRET = 'test-webhook-secret-0123456789';

describe('alerter rebalance on the embedded SQLite bus', () => {
  let dir: string;
  let bus: SqliteBus;
  let receiver: HttpReceiver;
  const seen: string[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'aispm-alerter-rebalance-'));
    bus = new SqliteBus({ path: dir, log: () => undefined });
    receiver = await HttpReceiver.start((req) => {
      const body = JSON.parse(req.body) as { findings: { id: string }[] };
      seen.push(...body.findings.map((f) => f.id));
      return { status: 200, body: '{}' };
    });
  });
  afterAll(async () => {
    await receiver.close();
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("does not commit a partition it lost, while it still holds and then delivers that partition's finding", async () => {
    const run = randomUUID().slice(0, 8);
    const topic = `it.alerter.rebalance.${run}`;
    const group = `it-alerter-rebalance-${run}`;
    await bus.ensureTopics([{ topic, partitions: 2 }]);
    const routes = parseRoutes(
      JSON.stringify({
        version: 1,
        destinations: [{ name: 'hook', kind: 'webhook', url: `${receiver.url}/alerts`, secret_env: 'HOOK_SECRET' }],
        route: {
          destinations: ['hook'],
          group_by: ['tenant', 'asset'],
          group_wait: '0',
          group_interval: '10ms',
          repeat_interval: '4h',
          routes: [{ name: 'slow', match: ['type=slow_burn'], group_wait: '2s' }],
        },
        inhibit_rules: [],
      }),
      'test routes',
    );
    const services: AlerterService[] = [];
    const start = async (): Promise<AlerterService> => {
      const service = await startAlerter({
        bus,
        log: silentLogger,
        topic,
        group,
        dlqTopic: `it.alerter.rebalance.dlq.${run}`,
        dispatcher: createDispatcher<AlerterRef>(routes),
        destinations: new Map([['hook', createDestination(routes.destinations[0]!.config, { HOOK_SECRET: SECRET })]]),
        delivery: { maxAttempts: 3, maxElapsedMs: 5000, backoff: { baseMs: 20, capMs: 200 }, attemptTimeoutMs: 2000 },
        breaker: { failures: 50, cooldownMs: 300 },
        maxBatchSize: 100,
        concurrency: 2,
        maxInFlightPerDestination: 8,
        commitIntervalMs: 20,
      });
      services.push(service);
      return service;
    };
    try {
      // The group's second member takes partition 1 (the embedded bus deals partitions round robin).
      let key = 'asset-0';
      for (let i = 0; partitionForKey(key, 2) !== 1; i++) key = `asset-${i}`;
      const publish = (findings: Finding[]): Promise<void> =>
        bus.publish(
          topic,
          findings.map((f) => ({ key, value: codec.encode(f) })),
        );
      const uncommitted = (): number => bus.backlog(topic, group).records;

      const first = await start();
      const slow = sampleFinding(41, { type: 'slow_burn' });
      const fast = sampleFinding(42);
      await publish([slow, fast]);
      await until(() => seen.includes(fast.id) && first.inFlight() === 1, 'the fast finding delivered, the slow held');
      await sleep(100);
      expect(uncommitted()).toBe(2);
      // Half-way through the old owner's group_wait, so the two deliveries of the slow finding are well apart.
      await sleep(900);
      await start();
      await until(() => seen.filter((id) => id === fast.id).length === 2, 'the new owner to read partition 1 again');
      // The old owner delivers the slow finding after its group_wait and lets it go, but the partition is not its own.
      await until(() => seen.includes(slow.id) && first.inFlight() === 0, 'the old owner to deliver the slow finding');
      await sleep(200);
      expect(seen.filter((id) => id === slow.id)).toHaveLength(1);
      expect(uncommitted()).toBe(2);
      // The new owner delivers it after its own group_wait, and commits.
      await until(() => seen.filter((id) => id === slow.id).length === 2, 'the new owner to deliver it too');
      await until(() => uncommitted() === 0, 'the new owner to commit partition 1');
    } finally {
      for (const s of services) await s.stop(1000);
    }
  });
});
