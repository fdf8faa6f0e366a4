import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEventCodec, eventKey, loadConfig, type AiEvent } from '@aispm/core';
import { MemoryBus } from '@aispm/bus';
import { ChdbStore, migrate } from '@aispm/store';
import { generateTraffic } from '@aispm/cli';
import { Processor, StoreStateTable, type Checkpoint, type StateBackend } from '@aispm/processor';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../support/until.ts';

/**
 * Two tenants whose spans share trace and span ids, hence event ids (the id is the
 * span's own, services/core/src/event/types.ts eventIdOf), through the processor
 * in-process (memory bus, chdb): each tenant's events and scores are stored, and
 * scored against its own baselines only, also across a restart whose first batch
 * goes through the replay probe (checkpoint protocol step 2, processor.ts).
 */
const { topics } = loadConfig({});
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const acme = [
  ...generateTraffic({ seed: 5, total: 2400, tenant: 'acme', spanMs: 6 * 3_600_000, endMs: Date.now() - 60_000 }),
];
/** globex: the same spans (ids and times), with other token counts and latencies, so its baselines differ. */
const globex = acme.map((e): AiEvent => ({
  ...e,
  tenant: 'globex',
  input_tokens: e.input_tokens === null ? null : e.input_tokens * 7 + 3,
  latency_ms: e.latency_ms * 3,
}));
/** globex runs LAG events behind acme, so an event's twin of the other tenant is stored batches earlier. */
const LAG = 300;
function interleaved(): AiEvent[] {
  const out = acme.slice(0, LAG);
  for (let i = LAG; i < acme.length; i++) out.push(acme[i]!, globex[i - LAG]!);
  out.push(...globex.slice(acme.length - LAG));
  return out;
}

const pair = (tenant: string, eventId: string): string => `${tenant}\u0000${eventId}`;

interface Pipeline {
  store: ChdbStore;
  bus: MemoryBus;
}

async function pipeline(name: string, events: AiEvent[]): Promise<Pipeline> {
  const dir = mkdtempSync(join(tmpdir(), `aispm-tenants-${name}-`));
  dirs.push(dir);
  const store = await ChdbStore.open({ path: join(dir, 'chdb'), database: 'aispm' });
  await migrate(store);
  // A failed batch waits long enough for its process to "die" (stop) first.
  const bus = new MemoryBus({ retryBackoff: { initialMs: 60_000, maxMs: 60_000 }, log: () => undefined });
  await bus.ensureTopics(
    [topics.events, topics.scores, topics.findings, topics.deadLetter].map((topic) => ({ topic, partitions: 1 })),
  );
  const codec = createEventCodec();
  await bus.publish(
    topics.events,
    events.map((e) => ({ key: eventKey(e), value: codec.encode(e) })),
  );
  return { store, bus };
}

const BATCH = 200;

/** Runs a processor over the whole topic; `state` may fail a save (a crash between rows and checkpoint). */
async function runToEnd(p: Pipeline, total: number, state?: StateBackend): Promise<Processor> {
  const processor = new Processor({ ...p, topics, topic: topics.events, maxBatchSize: BATCH, state });
  await processor.start();
  await until(() => processor.stats().received >= total, 'every record taken', { timeoutMs: 60_000 });
  await processor.stop();
  return processor;
}

async function scoresOf(store: ChdbStore): Promise<Map<string, { score: number; learning: boolean }>> {
  const rows = await store.query<{ tenant: string; event_id: string; score: number; learning: boolean }>(
    'SELECT tenant, event_id, score, learning FROM anomaly_scores',
  );
  return new Map(
    rows.map((r) => [pair(r.tenant, r.event_id), { score: Number(r.score), learning: Boolean(r.learning) }]),
  );
}

async function countsOf(store: ChdbStore): Promise<Record<string, { events: number; scores: number; ids: number }>> {
  // No FINAL: a row stored twice shows before any merge.
  const rows = await store.query<{ tenant: string; events: string; scores: string; ids: string }>(
    `SELECT tenant, sum(e) AS events, sum(s) AS scores, uniqExact(event_id) AS ids FROM (
       SELECT tenant, event_id, 1 AS e, 0 AS s FROM events
       UNION ALL SELECT tenant, event_id, 0 AS e, 1 AS s FROM anomaly_scores)
     GROUP BY tenant ORDER BY tenant`,
  );
  return Object.fromEntries(
    rows.map((r) => [r.tenant, { events: Number(r.events), scores: Number(r.scores), ids: Number(r.ids) }]),
  );
}

describe('two tenants sharing event ids (memory bus, chdb)', () => {
  it('stores and scores both, each against its own baselines, also after a crash between rows and checkpoint', async () => {
    const mixed = interleaved();
    const total = mixed.length;
    expect(new Set(mixed.map((e) => e.event_id)).size).toBe(acme.length);

    // References: each tenant alone.
    const alone = new Map<string, { score: number; learning: boolean }>();
    for (const [name, events] of [
      ['acme', acme],
      ['globex', globex],
    ] as const) {
      const p = await pipeline(`alone-${name}`, events);
      await runToEnd(p, events.length);
      for (const [k, v] of await scoresOf(p.store)) alone.set(k, v);
      await p.bus.close();
      await p.store.close();
    }
    expect(alone.size).toBe(total);

    const p = await pipeline('mixed', mixed);
    try {
      // The 6th save fails: batch 6's rows are stored, its checkpoint is not; the process then "dies".
      const table = new StoreStateTable(p.store, topics.events);
      let saves = 0;
      let failed = false;
      const crashing: StateBackend = {
        save: (checkpoints: readonly Checkpoint[]) => {
          if (++saves === 6) {
            failed = true;
            return Promise.reject(new Error('crash between rows and checkpoint'));
          }
          return table.save(checkpoints);
        },
        load: (partitions) => table.load(partitions),
        close: () => table.close(),
      };
      const first = new Processor({ ...p, topics, topic: topics.events, maxBatchSize: BATCH, state: crashing });
      await first.start();
      await until(() => failed, 'the sixth checkpoint to fail', { timeoutMs: 60_000 });
      await first.stop();
      expect(first.stats().received).toBeLessThan(total);

      // A new process on the same log and store: restores the checkpoints, replays batch 6 (probing the store).
      const second = await runToEnd(p, total - 5 * BATCH);
      expect(second.stats().restored).toBeGreaterThan(0);
      expect(second.stats().skipped).toBe(0);

      expect(await countsOf(p.store)).toEqual({
        acme: { events: acme.length, scores: acme.length, ids: acme.length },
        globex: { events: globex.length, scores: globex.length, ids: globex.length },
      });
      const mixedScores = await scoresOf(p.store);
      let worst = 0;
      let learningDiffers = 0;
      for (const [k, expected] of alone) {
        const got = mixedScores.get(k);
        expect(got, k).toBeDefined();
        worst = Math.max(worst, Math.abs(got!.score - expected.score));
        if (got!.learning !== expected.learning) learningDiffers++;
      }
      // Each tenant scored exactly as alone: no baseline saw the other tenant's events.
      expect(worst).toBeLessThan(1e-6);
      expect(learningDiffers).toBe(0);
      // Not vacuous: the tenants' scores of the same span differ, and both have trusted baselines.
      const differs = acme.filter(
        (e) =>
          Math.abs(
            mixedScores.get(pair('acme', e.event_id))!.score - mixedScores.get(pair('globex', e.event_id))!.score,
          ) > 1e-3,
      );
      expect(differs.length).toBeGreaterThan(0);
      for (const tenant of ['acme', 'globex'])
        expect(
          [...mixedScores].filter(([k, s]) => k.startsWith(`${tenant}\u0000`) && !s.learning).length,
        ).toBeGreaterThan(0);

      // Separate state per tenant: every checkpointed key starts with its tenant.
      const keys = await p.store.query<{ tenant: string; keys: string }>(
        `SELECT splitByChar('/', key)[1] AS tenant, uniqExact(key) AS keys FROM processor_state GROUP BY tenant ORDER BY tenant`,
      );
      expect(keys.map((k) => k.tenant)).toEqual(['acme', 'globex']);
      expect(keys[0]!.keys).toBe(keys[1]!.keys);
    } finally {
      await p.bus.close();
      await p.store.close();
    }
  }, 180_000);
});
