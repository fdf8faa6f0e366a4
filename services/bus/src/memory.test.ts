import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { BusRecord, OutgoingRecord } from './bus.ts';
import { busContract } from './bus.contract.ts';
import { MemoryBus } from './memory.ts';
import { partitionForKey } from '@aispm/core';

busContract({
  name: 'memory',
  create: () => Promise.resolve(new MemoryBus({ log: () => undefined })),
  describeTopic: (bus, topic) => {
    const spec = bus.describeTopic(topic);
    return Promise.resolve(spec && { partitions: spec.partitions, compacted: spec.compacted === true });
  },
});

describe('MemoryBus', () => {
  it('trims records every group has committed, beyond the newest retainRecords', async () => {
    const bus = new MemoryBus({ retainRecords: 100 });
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    const consumed = collect();
    const reader = await bus.subscribe({ topic: 't', group: 'reader', handler: consumed.handler });
    await bus.publish('t', numbered(0, 3000));
    await consumed.until(3000);
    await reader.stop(); // commits; the stopped group still holds what it has not read
    await bus.publish('t', numbered(3000, 1100)); // enough appends to trigger a trim

    const late = collect();
    await bus.subscribe({ topic: 't', group: 'late', handler: late.handler });
    await late.until(1100);
    // The trim ran at offset 4100 with the reader committed at 3000: it kept from 3000 on.
    expect(late.records.map((r) => Number(r.offset))).toEqual(range(3000, 1100));
    await bus.close();
  });

  it('never trims records a group has not committed', async () => {
    const bus = new MemoryBus({ retainRecords: 0, log: () => undefined });
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    const failing = await bus.subscribe({
      topic: 't',
      group: 'stuck',
      handler: () => Promise.reject(new Error('down')),
    });
    await bus.publish('t', numbered(0, 3000));
    await failing.stop();
    const recovered = collect();
    await bus.subscribe({ topic: 't', group: 'stuck', handler: recovered.handler });
    await recovered.until(3000);
    expect(recovered.records[0]!.offset).toBe('0');
    await bus.close();
  });

  it("keeps each key's newest record when it trims a compacted topic", async () => {
    const bus = new MemoryBus({ retainRecords: 0 });
    await bus.ensureTopics([{ topic: 'state', partitions: 1, compacted: true }]);
    const keys = range(0, 10).map((i) => `entity-${i}`);
    const consumed = collect();
    const reader = await bus.subscribe({ topic: 'state', group: 'reader', handler: consumed.handler });
    await bus.publish(
      'state',
      range(0, 3000).map((i) => ({ key: keys[i % 10]!, value: Buffer.from(`v${i}`) })),
    );
    await consumed.until(3000);
    await reader.stop();
    await bus.publish(
      'state',
      range(0, 1100).map((i) => ({ key: `other-${i}`, value: Buffer.from(`o${i}`) })),
    );

    const restore = collect();
    await bus.subscribe({ topic: 'state', group: 'restore', handler: restore.handler });
    await restore.until(10 + 1100);
    const compacted = restore.records.filter((r) => Number(r.offset) < 3000);
    expect(compacted.map((r) => [r.key, r.value.toString()])).toEqual(keys.map((k, i) => [k, `v${2990 + i}`]));
    await bus.close();
  });

  it('hands a partition to a new member only after the old owner has committed its in-flight batch', async () => {
    const bus = new MemoryBus();
    await bus.ensureTopics([{ topic: 't', partitions: 2 }]);
    const key = keyFor(1, 2);
    await bus.publish(
      't',
      range(0, 4).map((i) => ({ key, value: Buffer.from(`r${i}`) })),
    );
    const entered = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    const first = collect();
    await bus.subscribe({
      topic: 't',
      group: 'g',
      maxBatchSize: 2,
      handler: async (batch) => {
        entered.resolve();
        await release.promise;
        await first.handler(batch);
      },
    });
    await entered.promise;
    const second = collect();
    const joined = await bus.subscribe({ topic: 't', group: 'g', maxBatchSize: 2, handler: second.handler });
    expect(joined.assignment()).toEqual([1]);
    await sleep(50);
    expect(second.records).toEqual([]);
    release.resolve();
    await second.until(2);
    expect(first.records.map((r) => r.value.toString())).toEqual(['r0', 'r1']);
    expect(second.records.map((r) => r.value.toString())).toEqual(['r2', 'r3']);
    await bus.close();
  });

  it('stops at once while a failed batch waits out its backoff, and reports the failure', async () => {
    const messages: string[] = [];
    const bus = new MemoryBus({
      retryBackoff: { initialMs: 60_000, maxMs: 60_000 },
      log: (message, level) => messages.push(`${level}: ${message}`),
    });
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    await bus.publish('t', numbered(0, 3));
    const failed = Promise.withResolvers<void>();
    const sub = await bus.subscribe({
      topic: 't',
      group: 'g',
      handler: () => {
        failed.resolve();
        throw new Error('synchronous failure');
      },
    });
    await failed.promise;
    const started = Date.now();
    await sub.stop();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(messages).toEqual([
      'warn: handler of group g failed on t[0] offsets 0-2: synchronous failure; ' +
        'the batch stays uncommitted and is delivered again in 60000 ms',
    ]);
    await bus.close();
  });

  it('wakes an idle member as soon as a record is published, and publishing never waits for consumers', async () => {
    const bus = new MemoryBus();
    await bus.ensureTopics([
      { topic: 't', partitions: 1 },
      { topic: 'slow', partitions: 1 },
    ]);
    const blocked = Promise.withResolvers<void>();
    await bus.subscribe({ topic: 'slow', group: 'g', handler: () => blocked.promise });
    let arrived = Promise.withResolvers<number>();
    await bus.subscribe({
      topic: 't',
      group: 'g',
      handler: () => {
        arrived.resolve(performance.now());
        return Promise.resolve();
      },
    });
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      await sleep(5);
      arrived = Promise.withResolvers<number>();
      const sent = performance.now();
      await bus.publish('slow', numbered(i, 1)); // its consumer never finishes; this must not wait
      await bus.publish('t', numbered(i, 1));
      latencies.push((await arrived.promise) - sent);
    }
    expect(Math.max(...latencies)).toBeLessThan(50);
    blocked.resolve();
    await bus.close();
  });

  it('lets timers and I/O run while a member works through a large backlog', async () => {
    const bus = new MemoryBus();
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    const consumed = collect();
    await bus.subscribe({ topic: 't', group: 'g', maxBatchSize: 10, handler: consumed.handler });
    await bus.publish('t', numbered(0, 20_000));
    const seenByTimer = await new Promise<number>((resolve) => setTimeout(() => resolve(consumed.records.length), 0));
    expect(seenByTimer).toBeLessThan(20_000);
    await consumed.until(20_000);
    await bus.close();
  });

  it('rejects a negative retention', () => {
    expect(() => new MemoryBus({ retainRecords: -1 })).toThrow(expect.objectContaining({ code: 'bus_invalid_option' }));
  });
});

function collect() {
  const records: BusRecord[] = [];
  const waiters = new Set<() => void>();
  return {
    records,
    handler: (batch: { records: BusRecord[] }) => {
      records.push(...batch.records);
      for (const check of waiters) check();
      return Promise.resolve();
    },
    until: (count: number) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (records.length < count) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      }),
  };
}

function numbered(from: number, count: number): OutgoingRecord[] {
  return range(from, count).map((i) => ({ key: 'k', value: Buffer.from(`r${i}`) }));
}

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

function keyFor(partition: number, partitions: number): string {
  for (let i = 0; ; i++) if (partitionForKey(`key-${i}`, partitions) === partition) return `key-${i}`;
}
