import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFindingCodec, silentLogger, type Finding } from '@aispm/core';
import { KafkaBus, SqliteBus, kafkajs, type Bus, type BusRecord } from '@aispm/bus';
import {
  createDestination,
  createDispatcher,
  HttpReceiver,
  parseRoutes,
  startAlerter,
  type AlerterRef,
  type AlerterService,
  type Destination,
} from '@aispm/alerter';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { until } from '../support/until.ts';
import { sampleFinding } from './support.ts';

/**
 * The alerter service end to end on a real bus (the embedded SQLite bus and the Kafka
 * broker): findings published to the findings topic → R's dispatcher → D's webhook
 * destination → a real HTTP receiver on loopback that plays faults. What is checked
 * is what a responder and an operator see: each finding delivered once, its resolve
 * after it, a 400 dead-lettered with its reason, 5xx retried, the breaker opening and
 * closing, and offsets committed only once the finding is delivered.
 */
const codec = createFindingCodec();
const brokers = inject('kafkaBrokers');
const admin = new kafkajs.Kafka({ brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();
const HOOK_SECRET = 'test-webhook-secret-0123456789';

interface Webhook {
  findings: { id: string; status: string; tenant: string }[];
  status: string;
}

function routesFor(url: string): string {
  return JSON.stringify({
    version: 1,
    destinations: [
      { name: 'hook', kind: 'webhook', url: `${url}/alerts`, timeout_ms: 2000, secret_env: 'AISPM_TEST_HOOK_SECRET' },
    ],
    route: {
      destinations: ['hook'],
      group_by: ['tenant', 'asset'],
      group_wait: '0',
      group_interval: '10ms',
      repeat_interval: '4h',
    },
    inhibit_rules: [],
  });
}

interface Harness {
  bus: Bus;
  topic: string;
  dlq: string;
  group: string;
  receiver: HttpReceiver;
  service: AlerterService;
  destination: Destination;
  publish(findings: Finding[]): Promise<void>;
  delivered(): Webhook[];
  /** Findings published and not committed by the alerter's group: the bus's own count, or the broker's offsets. */
  uncommitted(): Promise<number>;
  stop(): Promise<void>;
}

async function harness(
  bus: Bus,
  breaker = { failures: 50, cooldownMs: 300 },
  maxAttempts = 6,
  routesOf: (url: string) => string = routesFor,
): Promise<Harness> {
  const run = randomUUID().slice(0, 8);
  const topic = `it.alerter.findings.${run}`;
  const dlq = `it.alerter.dlq.${run}`;
  const group = `it-alerter-${run}`;
  await bus.ensureTopics([{ topic, partitions: 2 }]);
  // The handler sees only requests answered 200 (a fault answers instead of it): those are the deliveries.
  const accepted: Webhook[] = [];
  const receiver = await HttpReceiver.start((req) => {
    accepted.push(JSON.parse(req.body) as Webhook);
    return { status: 200, body: '{}' };
  });
  const routes = parseRoutes(routesOf(receiver.url), 'test routes');
  const destination = createDestination(routes.destinations[0]!.config, { AISPM_TEST_HOOK_SECRET: HOOK_SECRET });
  const service = await startAlerter({
    commitIntervalMs: 20,
    bus,
    log: silentLogger,
    topic,
    group,
    dlqTopic: dlq,
    dispatcher: createDispatcher<AlerterRef>(routes),
    destinations: new Map([['hook', destination]]),
    delivery: { maxAttempts, maxElapsedMs: 20_000, backoff: { baseMs: 20, capMs: 200 }, attemptTimeoutMs: 2000 },
    breaker,
    maxBatchSize: 100,
    concurrency: 2,
    maxInFlightPerDestination: 64,
  });
  return {
    bus,
    topic,
    dlq,
    group,
    receiver,
    service,
    destination,
    publish: (findings) =>
      bus.publish(
        topic,
        findings.map((f) => ({ key: f.asset, value: codec.encode(f) })),
      ),
    delivered: () => accepted,
    uncommitted: async () => {
      if (bus.kind !== 'kafka') return bus.backlog?.(topic, group).records ?? -1;
      const ends = await admin.fetchTopicOffsets(topic);
      const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      let left = 0;
      for (const end of ends) {
        const at = committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1';
        left += Number(end.high) - Math.max(0, Number(at));
      }
      return left;
    },
    async stop() {
      await service.stop(2000);
      await destination.close();
      await receiver.close();
    },
  };
}

/** Every record on `topic` so far, read in a group of its own. */
async function readAll(bus: Bus, topic: string, count: number): Promise<BusRecord[]> {
  const records: BusRecord[] = [];
  const sub = await bus.subscribe({
    topic,
    group: `read-${randomUUID().slice(0, 8)}`,
    handler: (batch) => {
      records.push(...batch.records);
      return Promise.resolve();
    },
  });
  try {
    await until(() => records.length >= count, `${count} records on ${topic}`, { timeoutMs: 30_000 });
  } finally {
    await sub.stop();
  }
  return records;
}

/** Finding ids with their status, as the receiver got them, in order. */
const seen = (h: Harness): string[] => h.delivered().flatMap((w) => w.findings.map((f) => `${f.id}:${f.status}`));

const BUSES: [string, () => Bus, () => void][] = [];
{
  let dir = '';
  BUSES.push([
    'embedded SQLite bus',
    () => {
      dir = mkdtempSync(join(tmpdir(), 'aispm-alerter-'));
      return new SqliteBus({ path: dir, log: () => undefined });
    },
    () => rmSync(dir, { recursive: true, force: true }),
  ]);
  BUSES.push([
    'Kafka',
    () => new KafkaBus({ brokers, log: () => undefined, consumer: { maxWaitTimeMs: 100 } }),
    () => undefined,
  ]);
}

describe.each(BUSES)('alerter service on the %s', (_name, open, cleanup) => {
  let bus: Bus;
  beforeAll(async () => {
    bus = open();
    await admin.connect();
  });
  afterAll(async () => {
    await admin.disconnect();
    await bus.close();
    cleanup();
  });

  it('delivers each finding once, its resolve after it, and commits only what was delivered', async () => {
    const h = await harness(bus);
    try {
      const findings = [1, 2, 3, 4, 5].map((n) => sampleFinding(n));
      // Held first: the findings are taken from the bus but not delivered, so nothing may be committed.
      h.receiver.failAlways({ kind: 'slow', ms: 1500 });
      await h.publish(findings);
      await until(() => h.receiver.requests.length >= 1, 'the first attempt');
      expect(await h.uncommitted()).toBe(5);
      expect(h.service.inFlight()).toBeGreaterThan(0);
      h.receiver.failAlways(undefined);
      // A second occurrence of each: a duplicate, not a second page.
      await h.publish(findings.map((f) => ({ ...f, occurrences: 2 })));
      await until(() => seen(h).length >= 5 && h.service.inFlight() === 0, 'five deliveries');
      await until(async () => (await h.uncommitted()) === 0, 'offsets committed');
      expect(new Set(seen(h))).toEqual(new Set(findings.map((f) => `${f.id}:open`)));
      expect(seen(h)).toHaveLength(5);
      await h.publish(findings.map((f) => ({ ...f, status: 'resolved' as const })));
      await until(() => seen(h).length >= 10, 'five resolves');
      for (const f of findings) {
        const order = seen(h).filter((s) => s.startsWith(f.id));
        expect(order).toEqual([`${f.id}:open`, `${f.id}:resolved`]);
      }
      await until(() => h.service.inFlight() === 0, 'everything released');
      await until(async () => (await h.uncommitted()) === 0, 'offsets committed');
    } finally {
      await h.stop();
    }
  });

  it('dead-letters an alert the receiver refuses with 400, once, with the reason, and commits it', async () => {
    const h = await harness(bus);
    try {
      h.receiver.failNext(1, { kind: 'status', status: 400, body: '{"message":"bad payload"}' });
      const f = sampleFinding(7);
      await h.publish([f]);
      const [dead] = await readAll(bus, h.dlq, 1);
      const body = JSON.parse(dead!.value.toString()) as {
        destination: string;
        reason: string;
        attempts: number;
        notification: { findings: Finding[] };
      };
      expect(body.destination).toBe('hook');
      expect(body.attempts).toBe(1);
      expect(body.reason).toMatch(/400/);
      expect(body.notification.findings.map((x) => x.id)).toEqual([f.id]);
      expect(dead!.headers['aispm.dlq.code']).toBe('undeliverable');
      await until(() => h.service.inFlight() === 0, 'the dead-lettered finding released');
      // Never retried: one request reached the receiver.
      expect(h.receiver.requests).toHaveLength(1);
      await until(async () => (await h.uncommitted()) === 0, 'its offset committed');
      const metrics = await h.service.metrics.registry.getSingleMetricAsString('aispm_alerter_deliveries_total');
      expect(metrics).toContain('destination="hook",outcome="dead_lettered"} 1');
    } finally {
      await h.stop();
    }
  });

  it('retries 5xx and a 429 with Retry-After, then delivers', async () => {
    const h = await harness(bus);
    try {
      h.receiver.failNext(2, { kind: 'status', status: 503 });
      h.receiver.failNext(1, { kind: 'status', status: 429, retryAfter: '1' });
      const f = sampleFinding(8);
      await h.publish([f]);
      await until(() => seen(h).length >= 1, 'delivered after the faults', {
        timeoutMs: 15_000,
        context: () => JSON.stringify(h.receiver.requests.map((r) => [r.at, r.path])),
      });
      const times = h.receiver.requests.map((r) => r.at);
      expect(times).toHaveLength(4);
      // Retry-After: 1 s is a floor on the wait after the 429.
      expect(times[3]! - times[2]!).toBeGreaterThanOrEqual(950);
      const retries = await h.service.metrics.registry.getSingleMetricAsString('aispm_alerter_retries_total');
      expect(retries).toContain('destination="hook"} 3');
    } finally {
      await h.stop();
    }
  });

  it('opens the breaker while the receiver is down and closes it when it is back, losing nothing', async () => {
    const h = await harness(bus, { failures: 2, cooldownMs: 300 }, 1000);
    try {
      await h.receiver.down();
      const findings = [11, 12, 13].map((n) => sampleFinding(n));
      await h.publish(findings);
      const state = async (): Promise<string> =>
        h.service.metrics.registry.getSingleMetricAsString('aispm_alerter_breaker_state');
      await until(async () => (await state()).includes('destination="hook"} 2'), 'the breaker open');
      expect(await h.uncommitted()).toBe(3);
      await h.receiver.up();
      await until(() => seen(h).length >= 3, 'every finding delivered after recovery');
      expect(new Set(seen(h))).toEqual(new Set(findings.map((f) => `${f.id}:open`)));
      expect(await state()).toContain('destination="hook"} 0');
      await until(async () => (await h.uncommitted()) === 0, 'offsets committed');
    } finally {
      await h.stop();
    }
  });

  it('dead-letters a record that does not decode, with the reason, and goes on', async () => {
    const h = await harness(bus);
    try {
      await bus.publish(h.topic, [{ key: 'x', value: Buffer.from('not a finding') }]);
      const f = sampleFinding(21);
      await h.publish([f]);
      const [dead] = await readAll(bus, h.dlq, 1);
      expect(dead!.headers['aispm.dlq.code']).toBe('undecodable');
      expect(dead!.value.toString()).toBe('not a finding');
      await until(() => seen(h).length === 1, 'the good finding delivered');
      await until(async () => (await h.uncommitted()) === 0, 'both offsets committed');
    } finally {
      await h.stop();
    }
  });

  it('keeps reading a partition while a finding waits out a 30 s group_wait, and commits only up to it', async () => {
    // Root route: group_wait 0. Child route "slow" (type=slow_burn): group_wait 30 s.
    const withSlowRoute = (url: string): string => {
      const routes = JSON.parse(routesFor(url)) as { route: Record<string, unknown> };
      routes.route.routes = [{ name: 'slow', match: ['type=slow_burn'], group_wait: '30s' }];
      return JSON.stringify(routes);
    };
    const h = await harness(bus, undefined, undefined, withSlowRoute);
    try {
      // One key, so one partition: a fast finding, the slow one, then more fast ones behind it.
      const onePartition = (findings: Finding[]): Promise<void> =>
        bus.publish(
          h.topic,
          findings.map((f) => ({ key: 'one-partition', value: codec.encode(f) })),
        );
      const before = sampleFinding(30);
      const slow = sampleFinding(31, { type: 'slow_burn' });
      const behind = [32, 33, 34].map((n) => sampleFinding(n));
      await onePartition([before]);
      await until(() => seen(h).length === 1, 'the first fast finding delivered');
      await until(async () => (await h.uncommitted()) === 0, 'its offset committed');
      await onePartition([slow]);
      await until(() => h.service.inFlight() === 1, 'the slow finding held');
      const published = Date.now();
      await onePartition(behind);
      await until(() => seen(h).length === 4, 'the findings behind the held one delivered', { timeoutMs: 2000 });
      expect(Date.now() - published).toBeLessThan(2000);
      expect(seen(h)).not.toContain(`${slow.id}:open`);
      // Released behind it, but committed only up to the held finding: a crash re-reads it and what follows.
      await until(() => h.service.inFlight() === 1, 'only the slow finding still held');
      await sleep(300);
      expect(await h.uncommitted()).toBe(1 + behind.length);
      if (bus.kind === 'kafka') {
        const [committed] = await admin.fetchOffsets({ groupId: h.group, topics: [h.topic] });
        const offsets = committed!.partitions.filter((p) => p.offset !== '-1').map((p) => p.offset);
        // The slow finding is the partition's second record: the commit stops at its offset.
        expect(offsets).toEqual(['1']);
      }
    } finally {
      await h.stop();
    }
  });
});
