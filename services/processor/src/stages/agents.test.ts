import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, sampleEvent, silentLogger, type AiEvent } from '@aispm/core';
import { MemoryBus } from '@aispm/bus';
import { ChdbStore, EVENTS_TABLE, eventRow, migrate, type QueryParams, type Row } from '@aispm/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentView } from '../baseline/view.ts';
import { AgentsStage, PROBE_IDS_PER_QUERY } from './agents.ts';
import type { Scored } from './stage.ts';

/** A replay's probe of the store, on the real engine: which events of a batch already have rows. */
const dir = mkdtempSync(join(tmpdir(), 'aispm-agents-probe-'));
let store: ChdbStore;

beforeAll(async () => {
  store = await ChdbStore.open({ path: join(dir, 'chdb'), database: 'aispm' });
  await migrate(store);
}, 120_000);

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function scoredEvents(count: number): Scored<AiEvent>[] {
  const start = Date.UTC(2026, 11, 1) * 1000;
  return Array.from({ length: count }, (_, i) => {
    const event = sampleEvent({
      event_id: `${i.toString(16).padStart(8, '0')}${'ab'.repeat(20)}`,
      time: start + i * 1000,
      tenant: i % 2 === 0 ? 'acme' : 'globex',
    });
    return {
      event,
      view: agentView(event),
      bytes: Buffer.alloc(0),
      source: null,
      score: 0,
    } as unknown as Scored<AiEvent>;
  });
}

describe('AgentsStage.fresh (the replay probe)', () => {
  it('finds the stored events of a batch larger than one query holds, a slice of ids per query', async () => {
    const count = 2 * PROBE_IDS_PER_QUERY + 500;
    const scored = scoredEvents(count);
    // Every third event was stored before the crash; the other tenant's twin of an id must not count.
    const stored = scored.filter((_, i) => i % 3 === 0);
    await store.insert(
      EVENTS_TABLE,
      stored.map((s) => eventRow(s.event)),
    );
    await store.insert(EVENTS_TABLE, [eventRow({ ...scored[1]!.event, tenant: 'acme' })]);
    const queries: number[] = [];
    const counting = Object.create(store) as ChdbStore;
    counting.query = <T extends Row>(sql: string, params?: QueryParams): Promise<T[]> => {
      queries.push((params?.ids as string[]).length);
      return store.query<T>(sql, params);
    };
    const stage = new AgentsStage({
      bus: new MemoryBus(),
      store: counting,
      topics: loadConfig({}).topics,
      log: silentLogger,
      fleet: false,
    });

    const fresh = await stage.fresh(scored, true);

    expect(queries).toEqual([PROBE_IDS_PER_QUERY, PROBE_IDS_PER_QUERY, 500]);
    expect(fresh.events.map((s) => s.event.event_id)).toEqual(
      scored.filter((_, i) => i % 3 !== 0).map((s) => s.event.event_id),
    );
    // No scores were stored: every event is still to be scored into the store.
    expect(fresh.scores).toHaveLength(count);
  });

  it('does not ask the store when there is nothing to probe', async () => {
    const stage = new AgentsStage({
      bus: new MemoryBus(),
      store: { query: () => Promise.reject(new Error('asked')) } as unknown as ChdbStore,
      topics: loadConfig({}).topics,
      log: silentLogger,
      fleet: false,
    });
    const scored = scoredEvents(3);
    expect((await stage.fresh(scored, false)).events).toBe(scored);
  });
});
