import { MemoryBus, type Batch } from '@aispm/bus';
import { afterEach, describe, expect, it } from 'vitest';
import { PipelineStats, WHOLE_STAGE, type StatsRow } from './collector.ts';
import { MeteredBus } from './metered-bus.ts';

/**
 * The metered bus credits each batch of a stage's subscription, and what it publishes,
 * to the stage and partition, on an in-process bus with two partitions; the stage's own
 * counters are credited to the batch that changed them; lag is the bus's backlog.
 */
const IN = 'in.v1';
const OUT = 'out.v1';
const DLQ = 'dlq.v1';

let bus: MemoryBus;
afterEach(async () => bus?.close());

const rowsOf = (rows: StatsRow[], partition: number) => rows.find((r) => r.partition === partition);

describe('PipelineStats through a MeteredBus', () => {
  it('counts records in, published, dead letters and batch time per partition, and the stage counters of each batch', async () => {
    bus = new MemoryBus();
    await bus.ensureTopics([
      { topic: IN, partitions: 2 },
      { topic: OUT, partitions: 1 },
      { topic: DLQ, partitions: 1 },
      { topic: 'state.v1', partitions: 1 },
    ]);
    let passed = 0;
    let clock = 1_000_000;
    const stats = new PipelineStats({
      stages: [
        {
          stage: 'test',
          topic: IN,
          group: 'g',
          lag: () => bus.backlog(IN, 'g').records,
          sources: [{ read: () => ({ records_out: passed }) }],
        },
      ],
      deadLetterTopic: DLQ,
      stateTopics: ['state.v1'],
      instance: 'here:1',
      now: () => clock,
    });
    const metered = new MeteredBus(bus, stats);
    const gate = Promise.withResolvers<void>();
    let handled = 0;
    // Records whose value is "bad" are dead-lettered; the others are passed on.
    const handler = async (batch: Batch): Promise<void> => {
      await gate.promise;
      const bad = batch.records.filter((r) => r.value.toString() === 'bad');
      const good = batch.records.filter((r) => r.value.toString() !== 'bad');
      passed += good.length;
      await metered.publish(
        OUT,
        good.map((r) => ({ key: r.key, value: r.value })),
      );
      // A checkpoint on a changelog is not output.
      await metered.publish('state.v1', [{ key: 'k', value: Buffer.from('state') }]);
      if (bad.length > 0)
        await metered.publish(
          DLQ,
          bad.map((r) => ({ key: r.key, value: r.value })),
        );
      handled += batch.records.length;
    };
    const sub = await metered.subscribe({ topic: IN, group: 'g', handler, concurrency: 2 });
    // Partition 0: 5 good; partition 1: 3 good and 2 bad.
    const records = [
      ...Array.from({ length: 5 }, (_, i) => ({ key: `a${i}`, value: Buffer.from('ok'), partition: 0 })),
      ...Array.from({ length: 3 }, (_, i) => ({ key: `b${i}`, value: Buffer.from('ok'), partition: 1 })),
      ...Array.from({ length: 2 }, (_, i) => ({ key: `c${i}`, value: Buffer.from('bad'), partition: 1 })),
    ];
    // Publishes outside a batch (a gateway's) are not the stage's.
    await metered.publish(IN, records);
    await new Promise((r) => setTimeout(r, 20));
    clock += 15_000;
    const waiting = stats.take();
    expect(rowsOf(waiting, WHOLE_STAGE)).toMatchObject({ stage: 'test', topic: IN, lag: 10, interval_s: 15 });
    expect(waiting).toHaveLength(1);

    gate.resolve();
    while (handled < 10) await new Promise((r) => setTimeout(r, 5));
    await sub.stop();
    clock += 15_000;
    const rows = stats.take();
    expect(rowsOf(rows, WHOLE_STAGE)).toMatchObject({ lag: 0, records_in: 0, published: 0, records_out: 0 });
    expect(rowsOf(rows, 0)).toMatchObject({
      records_in: 5,
      published: 5,
      dead_letters: 0,
      records_out: 5,
      batches: 1,
      instance: 'here:1',
      lag: null,
    });
    expect(rowsOf(rows, 1)).toMatchObject({ records_in: 5, published: 3, dead_letters: 2, records_out: 3, batches: 1 });
    const p0 = rowsOf(rows, 0)!;
    expect(p0.batch_ms_sum).toBeGreaterThan(0);
    expect(p0.batch_ms_max).toBe(p0.batch_ms_sum);
    // The interval's counts start again; the totals keep them.
    expect(stats.take().filter((r) => r.partition !== WHOLE_STAGE)).toEqual([]);
    expect(
      stats
        .totals()
        .map((t) => [t.partition, t.counts.records_in, t.counts.dead_letters])
        .sort(),
    ).toEqual([
      [0, 5, 0],
      [1, 5, 2],
    ]);
  });

  it('a batch that throws is not counted until it is handled; other groups pass through unmetered', async () => {
    bus = new MemoryBus();
    await bus.ensureTopics([{ topic: IN, partitions: 1 }]);
    const stats = new PipelineStats({
      stages: [{ stage: 'test', topic: IN, group: 'g' }],
      deadLetterTopic: DLQ,
      instance: 'x',
    });
    const metered = new MeteredBus(bus, stats);
    let attempts = 0;
    let other = 0;
    await metered.subscribe({
      topic: IN,
      group: 'g',
      handler: () => (++attempts === 1 ? Promise.reject(new Error('once')) : Promise.resolve()),
    });
    await metered.subscribe({
      topic: IN,
      group: 'other',
      handler: (b) => Promise.resolve(void (other += b.records.length)),
    });
    await metered.publish(IN, [{ key: 'k', value: Buffer.from('v') }]);
    while (attempts < 2 || other < 1) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 5));
    const rows = stats.take();
    expect(rowsOf(rows, 0)).toMatchObject({ records_in: 1, batches: 1 });
    expect(rows.every((r) => r.stage === 'test')).toBe(true);
  });
});
