import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChdbStore, MemoryBus, createEventCodec, eventKey, loadConfig, migrate, type Batch } from '@aispm/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Processor } from './processor.ts';
import { Scorer } from './scorer.ts';
import { agentTraffic } from './testing/simulated-agent.ts';

const config = loadConfig({});
const dir = mkdtempSync(join(tmpdir(), 'aispm-processor-'));

afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

describe('Processor', () => {
  it('scores a large batch in time slices: the event loop turns while it scores, so other I/O goes on', async () => {
    const store = await ChdbStore.open({ path: join(dir, 'chdb'), database: 'aispm' });
    const bus = new MemoryBus();
    const { topics } = config;
    try {
      await migrate(store);
      await bus.ensureTopics([
        { topic: topics.events, partitions: 1 },
        { topic: topics.scores, partitions: 1 },
        { topic: topics.findings, partitions: 1 },
        { topic: topics.deadLetter, partitions: 1 },
      ]);
      // 3,000 events, published before the processor starts: one batch.
      const agent = { agent: 'billing-bot', everyS: 10, inputTokens: 800, outputTokens: 150 };
      const events = agentTraffic(agent, Date.now() - 10 * 3_600_000, 3000, 1);
      const codec = createEventCodec();
      await bus.publish(
        topics.events,
        events.map((e) => ({ key: eventKey(e), value: codec.encode(e) })),
      );
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
      const processor = new Processor({ bus, store, topics });
      await processor.start();
      await vi.waitUntil(() => processor.stats().stored === events.length, { timeout: 30_000, interval: 50 });
      await processor.stop();
      ticking = false;
      expect(batches).toEqual([3000]);
      expect(turnsAtScore).toHaveLength(3000);
      // In one task every event would see the same count; sliced, the loop turned in between.
      expect(new Set(turnsAtScore).size).toBeGreaterThan(1);
    } finally {
      await bus.close();
      await store.close();
    }
  });
});
