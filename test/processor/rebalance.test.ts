import { randomUUID } from 'node:crypto';
import { consumerGroups, createEventCodec, eventKey, traceKey } from '@aispm/core';
import { KafkaBus, kafkajs } from '@aispm/bus';
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
 * Two processors share the events topic (`aispm up`, distributed: the test's Kafka
 * broker, chdb each in its own folder, one consumer group). One is stopped
 * gracefully after the first half of a stream; the other takes over its partitions,
 * restores their state from the compacted changelog, and scores the second half as
 * one uninterrupted processor does. Both members start on topics that do not exist
 * yet, so they also create the same topics at the same moment. The stream is two
 * tenants' whose spans share trace and span ids (hence event ids): each keeps its
 * own baselines through the handover.
 */
const brokers = inject('kafkaBrokers');
const run = randomUUID().slice(0, 8);
const PARTITIONS = 4;
const traffic = withTwinTenant(
  [...generateTraffic({ seed: 23, total: 2000, tenant: 'acme', spanMs: 6 * 3_600_000, endMs: Date.now() - 60_000 })],
  'globex',
  200,
);
const half = Math.floor(traffic.length / 2);
const bus = new KafkaBus({ brokers });
const eventCodec = createEventCodec();
/** Where the bus puts a key: kafkajs's default (Java-compatible murmur2) partitioner, as KafkaBus uses. */
const partitioner = kafkajs.Partitioners.DefaultPartitioner();
const partitionMetadata = Array.from({ length: PARTITIONS }, (_, id) => ({
  partitionId: id,
  leader: 0,
  partitionErrorCode: 0,
  replicas: [0],
  isr: [0],
}));
function partitionOf(key: string): number {
  return partitioner({ topic: 'any', partitionMetadata, message: { key, value: null } });
}
const admin = new kafkajs.Kafka({ brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();

interface Run {
  name: string;
  group: string;
  topics: UpTopics;
  /** Every score record read from the scores topic, repeats included. */
  received: AnomalyScoreRecord[];
  scores: Map<string, AnomalyScoreRecord>;
}

function newRun(name: string): Run {
  return {
    name,
    group: `rb-${name}-${run}`,
    topics: upTopics(`rb.${name}.${run}`),
    received: [],
    scores: new Map(),
  };
}

/** A member of `r`'s group, named by its client id. */
function up(r: Run, clientId: string): Up {
  return spawnUp(
    clientId,
    upEnv({
      brokers,
      dataDir: dataDir(`rebalance-${clientId}`),
      topics: r.topics,
      group: r.group,
      partitions: PARTITIONS,
      batch: 200,
      clientId,
    }),
  );
}

/** The agents stage's members (by client id) and the attributed partitions each owns; empty while it rebalances. */
async function assignments(r: Run): Promise<Map<string, number[]>> {
  const { groups } = await admin.describeGroups([consumerGroups(r.group).agents]);
  const group = groups[0];
  const owned = new Map<string, number[]>();
  if (group?.state !== 'Stable') return owned;
  for (const member of group.members) {
    const decoded = kafkajs.AssignerProtocol.MemberAssignment.decode(member.memberAssignment);
    owned.set(
      member.clientId,
      [...(decoded?.assignment[r.topics.attributed] ?? [])].sort((a, b) => a - b),
    );
  }
  return owned;
}

const committed = (r: Run): Promise<boolean> => pipelineCommitted(admin, r.topics, r.group);

async function publish(r: Run, events: typeof traffic): Promise<void> {
  await bus.publish(
    r.topics.events,
    events.map((event) => ({ key: traceKey(event), value: eventCodec.encode(event) })),
  );
}

/** The processor's own count of events it stored, from its newest status line. */
function storedBy(u: Up): number {
  const status = u.logs.findLast((line) => line.includes('"status"'));
  return status ? (JSON.parse(status) as { stored: number }).stored : 0;
}

const reference = newRun('ref');
const shared = newRun('pair');

beforeAll(async () => {
  await admin.connect();
});

afterAll(() => tearDown(bus, admin));

/** until, with the members' last log lines in a timeout's message. */
const untilLogged = (condition: () => boolean | Promise<boolean>, what: string, ups: Up[]): Promise<void> =>
  until(condition, what, { context: lastLogs(...ups) });

describe(`processor rebalance on ${inject('kafkaLabel')}`, () => {
  it('a member stopped mid-stream hands its partitions over: the other restores their state and scores as one processor does', async () => {
    const started = Date.now();
    // Both members (and the reference) create the topics themselves, at the same moment.
    const ref = up(reference, 'rb-ref');
    const a = up(shared, 'rb-a');
    const b = up(shared, 'rb-b');
    const all = [ref, a, b];
    await untilLogged(() => all.every((u) => u.logs.some((l) => l.includes('aispm is up'))), 'all three up', all);
    for (const r of [reference, shared]) {
      await readScores(bus, r.topics.scores, `rb-reader-${r.name}-${run}`, (score) => {
        r.received.push(score);
        r.scores.set(tenantEventId(score), score);
      });
    }
    // Both members own partitions before any event arrives, so each processes some of the first half.
    let before = new Map<string, number[]>();
    await untilLogged(
      async () => {
        before = await assignments(shared);
        return before.size === 2 && [...before.values()].every((p) => p.length > 0);
      },
      'both members to own partitions',
      all,
    );
    const handedOver = before.get('rb-b')!;
    expect([...before.values()].flat().sort()).toEqual([0, 1, 2, 3]);

    await publish(reference, traffic);
    await publish(shared, traffic.slice(0, half));
    await untilLogged(() => committed(shared), 'the first half committed by the pair', all);
    await untilLogged(() => shared.scores.size === half, 'the first half scored', all);
    // partitionOf agrees with the broker: each partition holds the first-half events it says.
    const perPartition = await admin.fetchTopicOffsets(shared.topics.attributed);
    for (const { partition, high } of perPartition) {
      const expected = traffic.slice(0, half).filter((e) => partitionOf(eventKey(e)) === partition).length;
      expect(Number(high), `partition ${partition}`).toBe(expected);
    }
    await untilLogged(() => storedBy(b) > 0 && storedBy(a) > 0, 'both members to report stored events', all);
    const storedByB = storedBy(b);
    expect(storedByB).toBeLessThan(half);

    const logMark = a.logs.length;
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
    await untilLogged(
      async () => (await assignments(shared)).get('rb-a')?.length === PARTITIONS,
      'the remaining member to own every partition',
      [a],
    );

    await publish(shared, traffic.slice(half));
    await untilLogged(() => committed(shared), 'the second half committed', [a]);
    await untilLogged(() => committed(reference), 'the whole stream committed by the reference', [ref]);
    await untilLogged(() => shared.scores.size === traffic.length, 'every event scored', [a]);
    await untilLogged(() => reference.scores.size === traffic.length, 'every event scored by the reference', [ref]);

    // The takeover read the stopped member's partitions back from the changelog.
    const restored = restoredState(a, logMark);
    expect(restored.keys).toBeGreaterThan(0);
    expect(restored.partitions).toEqual(expect.arrayContaining(handedOver));

    // A graceful handover scores nothing twice.
    expect(shared.received.length).toBe(traffic.length);

    // What one uninterrupted agents stage makes of the pair's attributed stream (see scoresOfStream).
    const uninterrupted = await scoresOfStream(inject('kafkaBrokers'), admin, shared.topics.attributed);
    let worst = 0;
    let learningDiffers = 0;
    let trustedOnHandedOver = 0;
    const trustedByTenant = new Map<string, number>();
    for (const event of traffic.slice(half)) {
      const got = shared.scores.get(tenantEventId(event))!;
      const expected = uninterrupted.get(tenantEventId(event))!;
      worst = Math.max(worst, Math.abs(got.score - expected.score));
      if (got.learning !== expected.learning) learningDiffers++;
      if (handedOver.includes(partitionOf(eventKey(event))) && !expected.learning) {
        trustedOnHandedOver++;
        trustedByTenant.set(event.tenant, (trustedByTenant.get(event.tenant) ?? 0) + 1);
      }
    }
    expect(worst).toBeLessThan(1e-6);
    expect(learningDiffers).toBe(0);
    // Not vacuous: on the handed-over partitions the reference already trusted its baselines,
    // which a takeover starting from empty state would not (it would be learning again).
    expect(trustedOnHandedOver).toBeGreaterThan(0);
    // Both tenants' (separate) baselines were handed over, and both tenants' every event scored.
    expect([...trustedByTenant.keys()].sort()).toEqual(['acme', 'globex']);
    for (const tenant of ['acme', 'globex'])
      expect([...shared.scores.values()].filter((s) => s.tenant === tenant).length).toBe(traffic.length / 2);

    a.child.kill('SIGTERM');
    ref.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(await ref.exited).toBe(0);
    console.log(
      `rebalance test: ${Date.now() - started} ms, stopped member stored ${storedByB}, restored ${restored.keys} keys`,
    );
  }, 120_000);
});
