import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEventCodec, eventKey, loadConfig, type AiEvent } from '@aispm/core';
import { MemoryBus, type Batch } from '@aispm/bus';
import { ChdbStore, migrate } from '@aispm/store';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Processor } from './processor.ts';
import { Scorer } from './scorer.ts';
import { MAX_RECORD_BYTES, createEntityEventsCodec, type EntityEvents } from './stages/entity-events.ts';
import { agentTraffic } from './testing/simulated-agent.ts';

const config = loadConfig({});
const dir = mkdtempSync(join(tmpdir(), 'aispm-processor-'));

afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

/** A migrated chdb store and an in-process bus whose `topics` (one partition each) hold `events`, for `run`; closed after. */
async function withPipeline(
  topics: string[],
  events: AiEvent[],
  run: (store: ChdbStore, bus: MemoryBus) => Promise<void>,
): Promise<void> {
  const store = await ChdbStore.open({ path: join(dir, 'chdb'), database: 'aispm' });
  const bus = new MemoryBus();
  try {
    await migrate(store);
    await bus.ensureTopics(topics.map((topic) => ({ topic, partitions: 1 })));
    const codec = createEventCodec();
    await bus.publish(
      config.topics.events,
      events.map((e) => ({ key: eventKey(e), value: codec.encode(e) })),
    );
    await run(store, bus);
  } finally {
    await bus.close();
    await store.close();
  }
}

describe('Processor', () => {
  it('scores a large batch in time slices: the event loop turns while it scores, so other I/O goes on', async () => {
    const { topics } = config;
    // 3,000 events, published before the processor starts: one batch.
    const agent = { agent: 'billing-bot', everyS: 10, inputTokens: 800, outputTokens: 150 };
    const events = agentTraffic(agent, Date.now() - 10 * 3_600_000, 3000, 1);
    const owed = [topics.events, topics.scores, topics.findings, topics.deadLetter];
    await withPipeline(owed, events, async (store, bus) => {
      const batches: number[] = [];
      const subscribe = bus.subscribe.bind(bus);
      vi.spyOn(bus, 'subscribe').mockImplementation((options) =>
        subscribe({
          ...options,
          handler: (batch: Batch) => (batches.push(batch.records.length), options.handler(batch)),
        }),
      );
      // Event-loop turns so far, as each event is scored.
      let turns = 0;
      let ticking = true;
      const tick = (): void => {
        turns++;
        if (ticking) setImmediate(tick);
      };
      setImmediate(tick);
      const turnsAtScore: number[] = [];
      type Score = (this: Scorer, ...args: Parameters<Scorer['score']>) => ReturnType<Scorer['score']>;
      const score = Object.getOwnPropertyDescriptor(Scorer.prototype, 'score')!.value as Score;
      vi.spyOn(Scorer.prototype, 'score').mockImplementation(function (this: Scorer, ...args) {
        turnsAtScore.push(turns);
        return score.apply(this, args);
      });
      const processor = new Processor({ bus, store, topics, topic: topics.events });
      await processor.start();
      await vi.waitUntil(() => processor.stats().stored === events.length, { timeout: 30_000, interval: 50 });
      await processor.stop();
      ticking = false;
      expect(batches).toEqual([3000]);
      expect(turnsAtScore).toHaveLength(3000);
      // In one task every event would see the same count; sliced, the loop turned in between.
      expect(new Set(turnsAtScore).size).toBeGreaterThan(1);
    });
  });

  it('re-keys a batch whose events all name one model into records under the publish limit, every event once', async () => {
    const { topics } = config;
    // One model for the whole batch, and event ids as long as allowed: as one record its events pass 1.5 MB.
    const agent = { agent: 'billing-bot', everyS: 10, inputTokens: 800, outputTokens: 150 };
    const events = agentTraffic(agent, Date.now() - 60 * 3_600_000, 20_000, 1)
      .filter((e) => e.response_model !== null)
      .slice(0, 6000)
      .map((e, i) => ({ ...e, event_id: `${String(i).padStart(6, '0')}-${'x'.repeat(240)}` }));
    const owed = [topics.events, topics.scores, topics.findings, topics.deadLetter, topics.entities];
    await withPipeline(owed, events, async (store, bus) => {
      const model = `${events[0]!.tenant}/model:${events[0]!.response_model!}`;
      expect(events).toHaveLength(6000);
      expect(events.every((e) => `${e.tenant}/model:${e.response_model!}` === model)).toBe(true);
      const sizes: number[] = [];
      const offsets: number[] = [];
      const entityCodec = createEntityEventsCodec();
      const forwarded = await bus.subscribe({
        topic: topics.entities,
        group: 'test-forwarded',
        handler: (batch) => {
          for (const record of batch.records) {
            sizes.push(record.value.length);
            const value: EntityEvents = entityCodec.decode(record.value);
            if (record.key === model) offsets.push(...value.events.map((e) => e.offset));
          }
          return Promise.resolve();
        },
      });
      const processor = new Processor({
        bus,
        store,
        topics,
        topic: topics.events,
        fleet: true,
        maxBatchSize: events.length,
      });
      await processor.start();
      await vi.waitUntil(() => offsets.length === events.length, { timeout: 30_000, interval: 50 });
      await processor.stop();
      await forwarded.stop();
      expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_RECORD_BYTES);
      expect(offsets).toEqual(events.map((_, i) => i));
    });
  });
});
