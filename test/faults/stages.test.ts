import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import kafkajs from 'kafkajs';
import { consumerGroups, loadConfig } from '@aispm/core';
import { JsonReceiver } from '@aispm/alerter';
import { ClickHouseStore } from '@aispm/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../support/until.ts';
import {
  children,
  dataDir,
  lastLogs,
  spawnAispm,
  uncommitted,
  upEnv,
  upTopics,
  type Up,
} from '../processor/support.ts';
import { KEY, startSending, storeLedger, TENANT, type Sent } from './support.ts';
import { freePort } from '../support/ports.ts';
import { chartMemoryLimits, MemoryWatch, OwnBroker, startStoreProcess, type StoreProcess } from './processes.ts';

/**
 * The fault suite: the distributed pipeline as separate processes, as compose and
 * the chart run it: `aispm gateway`, `aispm up` (the processor, no gateway) and
 * `aispm alerter`, on a Kafka broker of the suite's own, writing to the store
 * through ClickHouse's HTTP interface, and alerting a signed webhook receiver.
 * OTLP traffic flows the whole time; each fault is injected mid-stream and healed,
 * then the suite waits for every consumer group to commit and checks, over
 * everything sent so far: every span answered 200 is stored once with its score,
 * every finding stored reached the receiver, bad input went to the dead-letter
 * topic and nowhere else, and no process grew past the memory limit the chart
 * gives it. It prints a table of faults and counts.
 */
const repo = resolve(import.meta.dirname, '../..');
const run = randomUUID().slice(0, 8);
const topics = upTopics(`faults.stages.${run}`);
const alertsDlq = `faults.stages.${run}.alerts-dlq`;
const group = `faults-stages-${run}`;
const alerterGroup = `faults-stages-alerter-${run}`;
const WEBHOOK_SECRET = randomBytes(24).toString('hex');
/** Spans acknowledged before each fault, and again after it heals. */
const ACKED_AROUND_FAULT = 1500;
/** Corrupt records put on the events topic by the dead-letter fault. */
const CORRUPT_EVENTS = 3000;
const SENDING = { senders: 2, spansPerRequest: 100, pauseMs: 50, shadowModels: true };

const dir = dataDir('faults-stages');
const limits = chartMemoryLimits();
const memory = new MemoryWatch();
const sent: Sent = { acked: new Set(), sent: new Set(), statuses: new Map() };
const rows: string[][] = [];
let broker: OwnBroker;
let store: StoreProcess;
let reader: ClickHouseStore;
let receiver: JsonReceiver;
let admin: kafkajs.Admin;
let gatewayPort: number;
const stages: { gateway?: Up; processor?: Up; alerter?: Up } = {};

function env(): NodeJS.ProcessEnv {
  return {
    ...upEnv({ brokers: [broker.address], dataDir: dir, topics, group, partitions: 4, batch: 500 }),
    AISPM_STORE: 'clickhouse',
    AISPM_CLICKHOUSE_URL: store.url,
    AISPM_POLICY_FILE: join(repo, 'rules/policy/policy.example.json'),
    AISPM_ALERTER_GROUP: alerterGroup,
    AISPM_TOPIC_ALERTS_DLQ: alertsDlq,
    AISPM_STATS_INTERVAL_S: '5',
  };
}

async function startStage(role: 'gateway' | 'processor' | 'alerter'): Promise<Up> {
  const name = `${role}-${Date.now()}`;
  const up =
    role === 'gateway'
      ? spawnAispm(name, ['gateway'], {
          ...env(),
          AISPM_GATEWAY_KEYS: `${TENANT}:${KEY}`,
          AISPM_GATEWAY_PORT: String(gatewayPort),
        })
      : role === 'processor'
        ? spawnAispm(name, ['up', '--status-every', '5'], env())
        : spawnAispm(name, ['alerter'], {
            ...env(),
            AISPM_ALERT_ROUTES_FILE: join(dir, 'routes.json'),
            AISPM_ALERT_API_PORT: '0',
            AISPM_FAULTS_WEBHOOK_SECRET: WEBHOOK_SECRET,
          });
  const ready = { gateway: 'aispm gateway: send OTLP', processor: 'aispm is up', alerter: 'aispm alerter: routes' }[
    role
  ];
  await until(() => up.logs.some((line) => line.includes(ready)), `${role} to start`, {
    timeoutMs: 90_000,
    context: lastLogs(up),
  });
  memory.watch(role, up.child);
  stages[role] = up;
  return up;
}

async function kill9(role: 'gateway' | 'processor' | 'alerter'): Promise<void> {
  const up = stages[role]!;
  up.child.kill('SIGKILL');
  await up.exited;
}

const gatewayUrl = (): string => `http://127.0.0.1:${gatewayPort}`;

async function acknowledgedMore(count: number, what: string): Promise<void> {
  const target = sent.acked.size + count;
  await until(() => sent.acked.size >= target, `${count} more spans acknowledged ${what}`, {
    timeoutMs: 120_000,
    context: lastLogs(...Object.values(stages)),
  });
}

async function recordsOn(topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
}

/** Finding ids the receiver got, and how many deliveries of them in all. */
function alerted(): { ids: Set<string>; deliveries: number } {
  const ids = new Set<string>();
  let deliveries = 0;
  for (const body of receiver.bodies as { findings: { id: string }[] }[]) {
    for (const f of body.findings) {
      ids.add(f.id);
      deliveries++;
    }
  }
  return { ids, deliveries };
}

async function storedFindings(): Promise<Set<string>> {
  const rows = await reader.query<{ id: string }>(`SELECT DISTINCT id FROM findings WHERE tenant = {tenant:String}`, {
    tenant: TENANT,
  });
  return new Set(rows.map((r) => r.id));
}

/** What the last look found still uncommitted, for the message of a settle that timed out. */
let behindLast: string[] = [];

/** Every group has committed every record: all that was acknowledged has gone as far as it goes. */
async function settled(): Promise<boolean> {
  const groups = consumerGroups(group);
  const reads: [string, string][] = [
    [topics.events, groups.traces],
    [topics.attributed, groups.agents],
    [topics.entities, groups.entities],
    [topics.findings, alerterGroup],
  ];
  behindLast = (await Promise.all(reads.map(([topic, of]) => uncommitted(admin, topic, of)))).flat();
  return behindLast.length === 0;
}

const MiB = 1024 ** 2;

/**
 * Sends traffic, injects `fault` once some is acknowledged, heals, sends some more,
 * stops, waits for the pipeline to settle and checks and records the counts.
 */
async function faultRound(label: string, fault: () => Promise<void>, expectDeadLettered = 0): Promise<void> {
  const deadLetteredBefore = await recordsOn(topics.deadLetter);
  const sending = startSending(gatewayUrl, SENDING, sent);
  const started = Date.now();
  try {
    await acknowledgedMore(ACKED_AROUND_FAULT, `before: ${label}`);
    await fault();
    await acknowledgedMore(ACKED_AROUND_FAULT, `after: ${label}`);
  } finally {
    await sending.stop();
  }
  await until(settled, `every consumer group to commit after: ${label}`, {
    timeoutMs: 180_000,
    everyMs: 500,
    context: () => `behind: ${behindLast.join('; ')}\n${lastLogs(...Object.values(stages))()}`,
  });
  const counts = await storeLedger(reader, sent);
  let findings = new Set<string>();
  let missing: string[] = [];
  // A finding's group is sent group_interval after its last change: give the last ones that long.
  await until(
    async () => {
      findings = await storedFindings();
      const got = alerted().ids;
      missing = [...findings].filter((id) => !got.has(id));
      return missing.length === 0;
    },
    `every stored finding alerted after: ${label}`,
    { timeoutMs: 60_000, everyMs: 500, context: () => `${missing.length} not alerted, e.g. ${missing[0]}` },
  );
  const { ids, deliveries } = alerted();
  const deadLettered = (await recordsOn(topics.deadLetter)) - deadLetteredBefore;
  const alertsDeadLettered = await recordsOn(alertsDlq);
  memory.sample();
  const peak = (role: string): string => `${Math.round((memory.peaks.get(role) ?? 0) / MiB)}`;
  rows.push([
    label,
    `${Math.round((Date.now() - started) / 1000)} s`,
    String(counts.acked),
    String(counts.stored),
    String(counts.lost),
    String(counts.duplicateEvents),
    String(findings.size),
    String(ids.size),
    String(deliveries - ids.size),
    String(deadLettered),
    String(alertsDeadLettered),
    `${peak('gateway')}/${peak('processor')}/${peak('alerter')}`,
  ]);
  console.log(`fault suite: ${rows.at(-1)!.join(' | ')}`);

  expect(counts).toMatchObject({ lost: 0, unknown: 0, duplicateEvents: 0, duplicateScores: 0 });
  expect(counts).toMatchObject({ orphanScores: 0, unscored: 0 });
  expect(findings.size).toBeGreaterThan(0);
  expect(missing).toEqual([]);
  // Alerted ids are stored findings: nothing is made up or sent for another tenant.
  for (const id of ids) expect(findings.has(id), `alerted ${id} is a stored finding`).toBe(true);
  expect(deadLettered).toBe(expectDeadLettered);
  expect(alertsDeadLettered).toBe(0);
  for (const role of ['gateway', 'processor', 'alerter'] as const) {
    expect(memory.peaks.get(role) ?? 0, `${role} peak RSS within its chart limit`).toBeLessThan(limits[role]);
  }
}

beforeAll(async () => {
  broker = await OwnBroker.start(join(dir, 'kafka'));
  store = await startStoreProcess(join(dir, 'chdb'));
  receiver = await JsonReceiver.start({ webhookSecret: WEBHOOK_SECRET });
  writeFileSync(
    join(dir, 'routes.json'),
    JSON.stringify({
      version: 1,
      destinations: [
        {
          name: 'soc-webhook',
          kind: 'webhook',
          url: receiver.url,
          secret_env: 'AISPM_FAULTS_WEBHOOK_SECRET',
          timeout_ms: 5000,
        },
      ],
      route: {
        destinations: ['soc-webhook'],
        group_by: ['tenant', 'asset'],
        group_wait: '0',
        group_interval: '1s',
        repeat_interval: '4h',
      },
      inhibit_rules: [],
    }),
  );
  admin = new kafkajs.Kafka({ brokers: [broker.address], logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [...Object.values(topics), alertsDlq].map((topic) => ({ topic, numPartitions: 4 })),
  });
  gatewayPort = await freePort();
  reader = await ClickHouseStore.open(loadConfig({ ...env(), AISPM_MODE: 'distributed' }).clickhouse);
  // The processor first: it applies the migrations.
  await startStage('processor');
  await Promise.all([startStage('gateway'), startStage('alerter')]);
}, 300_000);

afterAll(async () => {
  memory.stop();
  for (const child of children) child.kill('SIGKILL');
  const header = [
    'fault',
    'took',
    'acked',
    'stored',
    'lost',
    'dup events',
    'findings',
    'alerted',
    'dup alerts',
    'dead-lettered',
    'alerts DLQ',
    'peak RSS MiB g/p/a',
  ];
  const table = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ');
  console.log(
    [
      'fault suite (counts are cumulative over the run):',
      line(header),
      widths.map((w) => '-'.repeat(w)).join('-|-'),
      ...rows.map(line),
      `memory limits (deploy/helm/aispm/values.yaml): gateway ${limits.gateway / MiB} MiB, processor ${limits.processor / MiB} MiB, alerter ${limits.alerter / MiB} MiB`,
    ].join('\n'),
  );
  await reader?.close();
  await admin?.disconnect();
  await receiver?.http.close();
  await store?.stop();
  await broker?.stop();
}, 120_000);

// A file's tests run one after another: each round builds on the last.
describe('fault suite: separate processes, one broker of its own, the store over HTTP', () => {
  it('kill -9 the gateway mid-stream, then restart it', { timeout: 600_000 }, async () => {
    await faultRound('kill -9 gateway', async () => {
      await kill9('gateway');
      await startStage('gateway');
    });
  });

  it('kill -9 the processor mid-stream, then restart it', { timeout: 600_000 }, async () => {
    await faultRound('kill -9 processor', async () => {
      await kill9('processor');
      await startStage('processor');
    });
  });

  it('kill -9 the alerter with deliveries in flight, then restart it', { timeout: 600_000 }, async () => {
    await faultRound('kill -9 alerter', async () => {
      receiver.http.failAlways({ kind: 'slow', ms: 300 });
      const before = receiver.http.requests.length;
      await until(() => receiver.http.requests.length > before, 'a delivery in flight', { timeoutMs: 30_000 });
      await kill9('alerter');
      receiver.http.failAlways(undefined);
      await startStage('alerter');
    });
  });

  it('restart the broker mid-stream', { timeout: 600_000 }, async () => {
    await faultRound('broker restart', () => broker.restart());
  });

  it('pause the store for 20 s mid-stream', { timeout: 600_000 }, async () => {
    await faultRound('store paused 20 s', async () => {
      store.pause();
      await new Promise((done) => setTimeout(done, 20_000));
      store.resume();
    });
  });

  it('fill the dead-letter path with corrupt records and bad requests', { timeout: 600_000 }, async () => {
    await faultRound(
      `${CORRUPT_EVENTS} corrupt events`,
      async () => {
        const producer = new kafkajs.Kafka({
          brokers: [broker.address],
          logLevel: kafkajs.logLevel.NOTHING,
        }).producer();
        await producer.connect();
        try {
          for (let sentCorrupt = 0; sentCorrupt < CORRUPT_EVENTS; sentCorrupt += 500) {
            await producer.send({
              topic: topics.events,
              messages: Array.from({ length: 500 }, (_, i) => ({
                key: `corrupt-${sentCorrupt + i}`,
                value: randomBytes(64),
              })),
            });
          }
        } finally {
          await producer.disconnect();
        }
        // Bad OTLP requests are refused at the door, counted, and never reach the topic.
        for (let i = 0; i < 20; i++) {
          const response = await fetch(`${gatewayUrl()}/v1/traces`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
            body: '{"resourceSpans": [ {"scopeSpans": 7 } ]',
          });
          expect(response.status).toBe(400);
        }
      },
      CORRUPT_EVENTS,
    );
  });

  it('slow the alert receiver to 2 s an answer for 20 s', { timeout: 600_000 }, async () => {
    await faultRound('alert receiver slow', async () => {
      receiver.http.failAlways({ kind: 'slow', ms: 2000 });
      await new Promise((done) => setTimeout(done, 20_000));
      receiver.http.failAlways(undefined);
    });
  });
});
