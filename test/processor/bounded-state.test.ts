import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createEventCodec,
  eventKey,
  loadConfig,
  sampleEvent,
  silentLogger,
  type AiEvent,
  type Logger,
} from '@aispm/core';
import { MemoryBus } from '@aispm/bus';
import { ChdbStore, migrate } from '@aispm/store';
import { generateTraffic } from '@aispm/cli';
import { Processor, StoreStateTable } from '@aispm/processor';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../support/until.ts';

/**
 * The processor's state stays bounded: per tenant at most AISPM_MAX_ENTITIES_PER_TENANT
 * entities per stage (memory and processor_state rows), however many distinct agents
 * and users one tenant sends, without touching another tenant's entities; and
 * entities idle for AISPM_ENTITY_IDLE_DAYS of event time leave memory and state.
 */
const { topics } = loadConfig({});
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

async function withPipeline(
  events: AiEvent[],
  run: (store: ChdbStore, bus: MemoryBus) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'aispm-bounded-'));
  dirs.push(dir);
  const store = await ChdbStore.open({ path: join(dir, 'chdb'), database: 'aispm' });
  const bus = new MemoryBus({ retainRecords: 1_000_000 });
  try {
    await migrate(store);
    await bus.ensureTopics(
      [topics.events, topics.scores, topics.findings, topics.deadLetter, topics.entities].map((topic) => ({
        topic,
        partitions: 2,
      })),
    );
    const codec = createEventCodec();
    await bus.publish(
      topics.events,
      events.map((e) => ({ key: eventKey(e), value: codec.encode(e) })),
    );
    await run(store, bus);
  } finally {
    await bus.close();
    await store.close();
  }
}

/** A logger keeping its warn lines. */
function warnings(): { log: Logger; lines: { message: string; fields: Record<string, unknown> }[] } {
  const lines: { message: string; fields: Record<string, unknown> }[] = [];
  return {
    lines,
    log: {
      ...silentLogger,
      warn: (message: string, fields?: Record<string, unknown>) => void lines.push({ message, fields: fields ?? {} }),
    },
  };
}

describe('bounded processor state', () => {
  it("a tenant's flood of 50,000 distinct agents and users is capped per stage, counted, and leaves another tenant tracked", async () => {
    const CAP = 1000;
    const FLOOD = 50_000;
    const endMs = Date.now() - 60_000;
    const calm = [...generateTraffic({ seed: 3, total: 3000, tenant: 'calm', spanMs: 6 * HOUR_MS, endMs })];
    const flood = Array.from({ length: FLOOD }, (_, i) =>
      sampleEvent({
        tenant: 'flood',
        event_id: `flood-${i}`,
        span_id: `flood-${i}`,
        time: (endMs - 2 * HOUR_MS + i * 100) * 1000,
        agent: `bot-${i}`,
        user: `user-${i}`,
      }),
    );
    const events = [...calm.slice(0, 2000), ...flood, ...calm.slice(2000)];
    await withPipeline(events, async (store, bus) => {
      const agentsLog = warnings();
      const entitiesLog = warnings();
      const analytics = { maxEntitiesPerTenant: CAP };
      const agents = new Processor({
        bus,
        store,
        topics,
        topic: topics.events,
        fleet: true,
        analytics,
        log: agentsLog.log,
      });
      const entities = new Processor({ bus, store, topics, stage: 'entities', analytics, log: entitiesLog.log });
      await entities.start();
      await agents.start();
      await until(() => agents.stats().received === events.length, 'the agents stage to take every event', {
        timeoutMs: 120_000,
      });
      await until(
        () => entities.stats().received >= agents.stats().forwarded,
        'the entities stage to take every re-keyed record',
        { timeoutMs: 120_000 },
      );
      await agents.stop();
      await entities.stop();

      // Every event stored and scored, tracked or not.
      const [stored] = await store.query<{ events: string; scores: string }>(
        'SELECT (SELECT count() FROM events) AS events, (SELECT count() FROM anomaly_scores) AS scores',
      );
      expect(Number(stored!.events)).toBe(events.length);
      expect(Number(stored!.scores)).toBe(events.length);

      // Memory: the flood tenant holds at most CAP entities per stage; the refusals are counted.
      const a = agents.stats();
      const e = entities.stats();
      const calmAgents = new Set(calm.map((c) => eventKey(c))).size;
      expect(a.entities).toBe(CAP + calmAgents);
      expect(a.untracked).toBe(FLOOD - CAP);
      expect(e.entities).toBeLessThanOrEqual(2 * CAP);
      // Every flood user past the cap (its model, identity and tool took three places).
      expect(e.untracked).toBeGreaterThanOrEqual(FLOOD - CAP);

      // State rows: at most CAP keys of the flood tenant per stage; the calm tenant's all there.
      const rows = await store.query<{ topic: string; tenant: string; keys: string }>(
        `SELECT topic, splitByChar('/', key)[1] AS tenant, uniqExact(key) AS keys
         FROM processor_state GROUP BY topic, tenant ORDER BY topic, tenant`,
      );
      const keysOf = (topic: string, tenant: string): number =>
        Number(rows.find((r) => r.topic === topic && r.tenant === tenant)?.keys ?? 0);
      expect(keysOf(topics.events, 'flood')).toBe(CAP);
      expect(keysOf(topics.entities, 'flood')).toBeLessThanOrEqual(CAP);
      expect(keysOf(topics.events, 'calm')).toBe(calmAgents);
      const calmFleet = new Set(
        calm.flatMap((c) => [c.user && `user:${c.user}`, c.identity && `identity:${c.identity}`]).filter(Boolean),
      ).size;
      expect(keysOf(topics.entities, 'calm')).toBeGreaterThanOrEqual(calmFleet);

      // The calm tenant's agents were scored against their baselines throughout: trusted by the end.
      const [calmScores] = await store.query<{ trusted: string }>(
        `SELECT countIf(NOT learning) AS trusted FROM anomaly_scores WHERE tenant = 'calm'`,
      );
      expect(Number(calmScores!.trusted)).toBeGreaterThan(500);

      // Logged once (per interval), for the flood tenant only.
      for (const { lines } of [agentsLog, entitiesLog]) {
        const capped = lines.filter((l) => l.message.includes('entity cap'));
        expect(capped.length).toBe(1);
        expect(capped[0]!.fields).toMatchObject({ tenant: 'flood', cap: CAP });
      }
    });
  }, 240_000);

  it('forgets entities idle for the idle period of event time: out of memory, their checkpoint deleted', async () => {
    const nowMs = Date.now();
    const old = [
      ...generateTraffic({ seed: 4, total: 300, tenant: 'acme', spanMs: HOUR_MS, endMs: nowMs - 20 * DAY_MS }),
    ].map((e) => ({ ...e, app: 'old-app', agent: 'old-bot', user: null, identity: null }));
    const recent = [...generateTraffic({ seed: 5, total: 600, tenant: 'acme', spanMs: 2 * HOUR_MS, endMs: nowMs })];
    const events = [...old, ...recent];
    await withPipeline(old, async (store, bus) => {
      const processor = new Processor({
        bus,
        store,
        topics,
        topic: topics.events,
        analytics: { entityIdleDays: 14 },
        maxBatchSize: 100,
      });
      await processor.start();
      // The old agent's events first, then the recent ones: event time moves on past its idle period.
      await until(() => processor.stats().received === old.length, 'the old events taken', { timeoutMs: 60_000 });
      const codec = createEventCodec();
      await bus.publish(
        topics.events,
        recent.map((e) => ({ key: eventKey(e), value: codec.encode(e) })),
      );
      await until(() => processor.stats().received === events.length, 'every event taken', { timeoutMs: 60_000 });
      await processor.stop();
      const oldKey = 'acme/old-app/old-bot';
      expect(processor.stats().evicted).toBeGreaterThanOrEqual(1);
      const [last] = await store.query<{ snapshot: string }>(
        `SELECT argMax(snapshot, saved_at) AS snapshot FROM processor_state WHERE key = {key:String}`,
        { key: oldKey },
      );
      expect(last?.snapshot).toBe('');
      const restored = await new StoreStateTable(store, topics.events).load([0, 1]);
      expect(restored.map((c) => c.key)).not.toContain(oldKey);
      expect(restored.length).toBe(new Set(recent.map((e) => eventKey(e))).size);
    });
  }, 120_000);
});
