import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Batch, BatchHandler, Bus, BusRecord, OutgoingRecord } from './bus.ts';
import { partitionForKey } from '@aispm/core';

/**
 * The Bus contract as tests: `memory.test.ts` and `kafka.test.ts` run this same suite,
 * so embedded and distributed mode behave alike. Every test uses its own topics and
 * groups, so tests never see each other's records.
 */
export interface BusHarness<B extends Bus> {
  /** Shown in the suite title: the implementation, and for Kafka which broker it ran against. */
  name: string;
  /** A new bus; the suite closes it after each test. */
  create(): Promise<B>;
  /** How the backend holds a topic, read back independently of ensureTopics; undefined when absent. */
  describeTopic(bus: B, topic: string): Promise<{ partitions: number; compacted: boolean } | undefined>;
  /** Longest wait for deliveries and rebalances (default 10 s). */
  timeoutMs?: number;
}

export function busContract<B extends Bus>(harness: BusHarness<B>): void {
  const timeoutMs = harness.timeoutMs ?? 10_000;

  describe(`Bus contract: ${harness.name}`, () => {
    let bus: B;
    beforeEach(async () => {
      bus = await harness.create();
    });
    afterEach(async () => {
      await bus.close();
    });

    async function topicWith(partitions: number): Promise<string> {
      const topic = unique('topic');
      await bus.ensureTopics([{ topic, partitions }]);
      return topic;
    }

    it('ensureTopics creates topics with their partitions and cleanup policy, and leaves existing ones alone', async () => {
      const plain = unique('plain');
      const compacted = unique('compacted');
      await bus.ensureTopics([
        { topic: plain, partitions: 3 },
        { topic: compacted, partitions: 2, compacted: true },
      ]);
      await bus.ensureTopics([
        { topic: plain, partitions: 5 },
        { topic: compacted, partitions: 2, compacted: true },
      ]);
      expect(await harness.describeTopic(bus, plain)).toEqual({ partitions: 3, compacted: false });
      expect(await harness.describeTopic(bus, compacted)).toEqual({ partitions: 2, compacted: true });
      expect(await harness.describeTopic(bus, unique('never'))).toBeUndefined();
      await expect(bus.ensureTopics([{ topic: 'no spaces', partitions: 1 }])).rejects.toMatchObject({
        code: 'bus_invalid_topic',
      });
      await expect(bus.ensureTopics([{ topic: unique('zero'), partitions: 0 }])).rejects.toMatchObject({
        code: 'bus_invalid_topic',
      });
    });

    it('refuses topics that were never created, and bad subscribe options, with typed errors', async () => {
      const missing = unique('missing');
      await expect(bus.publish(missing, [record('k', 'v')])).rejects.toMatchObject({ code: 'bus_topic_missing' });
      const handler = new Deliveries().handler;
      await expect(bus.subscribe({ topic: missing, group: unique('g'), handler })).rejects.toMatchObject({
        code: 'bus_topic_missing',
      });
      const topic = await topicWith(1);
      await expect(bus.subscribe({ topic, group: unique('g'), handler, maxBatchSize: 0 })).rejects.toMatchObject({
        code: 'bus_invalid_option',
      });
    });

    it("keeps one key's records on the partition Kafka's partitioner picks, in publish order, in bounded batches", async () => {
      const partitions = 4;
      const topic = await topicWith(partitions);
      const keys = ['tenant-a/app-1/agent-1', 'tenant-a/app-1/agent-2', 'tenant-b/app-2/agent-1', 'k4', 'k5', 'k6'];
      for (let round = 0; round < 4; round++) {
        await bus.publish(
          topic,
          keys.flatMap((key) => range(10).map((i) => record(key, `${key}#${round * 10 + i}`))),
        );
      }
      const got = new Deliveries();
      await bus.subscribe({ topic, group: unique('g'), handler: got.handler, maxBatchSize: 7 });
      await got.until(() => got.records.length >= keys.length * 40, 'all 240 records', timeoutMs);

      for (const key of keys) {
        const mine = got.records.filter((r) => r.key === key);
        expect(new Set(mine.map((r) => r.partition)), key).toEqual(new Set([partitionForKey(key, partitions)]));
        expect(values(mine), key).toEqual(range(40).map((i) => `${key}#${i}`));
        expect(isIncreasing(mine.map((r) => BigInt(r.offset))), key).toBe(true);
      }
      for (const batch of got.batches) {
        expect(batch.records.length).toBeGreaterThan(0);
        expect(batch.records.length).toBeLessThanOrEqual(7);
        expect(batch.records.every((r) => r.partition === batch.partition && r.topic === topic)).toBe(true);
        expect(isIncreasing(batch.records.map((r) => BigInt(r.offset)))).toBe(true);
      }
    });

    it('with lingerMs, gathers records published apart into fewer, fuller batches', async () => {
      const topic = await topicWith(1);
      const got = new Deliveries();
      await bus.subscribe({ topic, group: unique('g'), handler: got.handler, lingerMs: 1500 });
      for (let i = 0; i < 10; i++) {
        await bus.publish(topic, [record('k', `v${i}`)]);
        await sleep(20);
      }
      await got.until(() => got.records.length >= 10, 'all 10 records', timeoutMs);
      expect(values(got.records)).toEqual(range(10).map((i) => `v${i}`));
      // Ten publishes ~25 ms apart span at most one linger boundary (Kafka: a fetch's wait ending).
      expect(got.batches.length).toBeLessThanOrEqual(2);
      await expect(
        bus.subscribe({ topic, group: unique('g'), handler: got.handler, lingerMs: -1 }),
      ).rejects.toMatchObject({ code: 'bus_invalid_option' });
    });

    it('delivers every record to each of two groups', async () => {
      const topic = await topicWith(3);
      const sent = range(100).map((i) => `v${i}`);
      await bus.publish(
        topic,
        sent.map((v, i) => record(`k${i % 20}`, v)),
      );
      const first = new Deliveries();
      const second = new Deliveries();
      await bus.subscribe({ topic, group: unique('g1'), handler: first.handler });
      await bus.subscribe({ topic, group: unique('g2'), handler: second.handler });
      await first.until(() => new Set(values(first.records)).size === 100, 'group 1 to see all 100', timeoutMs);
      await second.until(() => new Set(values(second.records)).size === 100, 'group 2 to see all 100', timeoutMs);
      expect(new Set(values(first.records))).toEqual(new Set(sent));
      expect(new Set(values(second.records))).toEqual(new Set(sent));
    });

    it('splits partitions between two members of a group, delivers each record once, and rebalances when one leaves', async () => {
      const topic = await topicWith(4);
      const group = unique('g');
      const both = new Deliveries();
      const a = new Deliveries(both);
      const b = new Deliveries(both);
      const subA = await bus.subscribe({ topic, group, handler: a.handler });
      const subB = await bus.subscribe({ topic, group, handler: b.handler });
      await eventually(
        () => {
          const [x, y] = [subA.assignment(), subB.assignment()];
          return x.length > 0 && y.length > 0 && [...x, ...y].sort().join() === '0,1,2,3';
        },
        'both members to own partitions, together all four',
        timeoutMs,
      );

      const firstRound = range(200).map((i) => `first-${i}`);
      await bus.publish(
        topic,
        firstRound.map((v, i) => record(`key-${i % 37}`, v)),
      );
      await both.until(() => both.records.length >= 200, 'the two members to see 200 records', timeoutMs);
      expect(values(both.records).sort()).toEqual([...firstRound].sort());
      expect(a.records.every((r) => subA.assignment().includes(r.partition))).toBe(true);
      expect(b.records.every((r) => subB.assignment().includes(r.partition))).toBe(true);

      await subB.stop();
      expect(subB.assignment()).toEqual([]);
      await eventually(() => subA.assignment().length === 4, 'the remaining member to own all partitions', timeoutMs);
      const before = a.records.length;
      const secondRound = range(100).map((i) => `second-${i}`);
      await bus.publish(
        topic,
        secondRound.map((v, i) => record(`key-${i % 37}`, v)),
      );
      await a.until(() => a.records.length >= before + 100, 'the remaining member to see 100 more', timeoutMs);
      // Everything the leaver handled was committed: nothing of the first round comes back.
      expect(values(a.records.slice(before)).sort()).toEqual([...secondRound].sort());
    });

    it('delivers a batch again, from the same offset, after its handler throws', async () => {
      const topic = await topicWith(1);
      await bus.publish(
        topic,
        range(10).map((i) => record('k', `r${i}`)),
      );
      const attempts: string[][] = [];
      const done = new Deliveries();
      let thrown = false;
      await bus.subscribe({
        topic,
        group: unique('g'),
        maxBatchSize: 4,
        handler: async (batch) => {
          attempts.push(batch.records.map((r) => r.offset));
          if (batch.records[0]?.offset === '4' && !thrown) {
            thrown = true;
            throw new Error('simulated failure');
          }
          await done.handler(batch);
        },
      });
      await done.until(() => values(done.records).includes('r9'), 'the last record', timeoutMs);
      expect(attempts.slice(0, 4)).toEqual([
        ['0', '1', '2', '3'],
        ['4', '5', '6', '7'],
        ['4', '5', '6', '7'],
        ['8', '9'],
      ]);
      expect(values(done.records)).toEqual(range(10).map((i) => `r${i}`));
    });

    it('keeps other partitions flowing while one partition keeps failing', async () => {
      const topic = await topicWith(2);
      const [bad, good] = [keyFor(0, 2), keyFor(1, 2)];
      await bus.publish(topic, [record(bad, 'bad-0'), record(good, 'good-0')]);
      const got = new Deliveries();
      let failing = true;
      let failures = 0;
      await bus.subscribe({
        topic,
        group: unique('g'),
        handler: async (batch) => {
          if (batch.partition === 0 && failing) {
            failures++;
            throw new Error('partition 0 is down');
          }
          await got.handler(batch);
        },
      });
      await got.until(() => values(got.records).includes('good-0'), 'the healthy partition', timeoutMs);
      await bus.publish(topic, [record(good, 'good-1')]);
      await got.until(() => values(got.records).includes('good-1'), 'more from the healthy partition', timeoutMs);
      expect(failures).toBeGreaterThan(0);
      expect(values(got.records)).not.toContain('bad-0');
      failing = false;
      await got.until(() => values(got.records).includes('bad-0'), 'the recovered partition', timeoutMs);
    });

    it('resumes a new member at the last commit after a member fails mid-stream', async () => {
      const topic = await topicWith(1);
      const group = unique('g');
      await bus.publish(
        topic,
        range(10).map((i) => record('k', `r${i}`)),
      );
      const crashed = new Deliveries();
      const crashing = await bus.subscribe({
        topic,
        group,
        maxBatchSize: 4,
        handler: async (batch) => {
          await crashed.handler(batch);
          if (batch.records[0]?.offset === '4') throw new Error('crash before commit');
        },
      });
      await crashed.until(() => values(crashed.records).includes('r4'), 'the batch that fails', timeoutMs);
      await crashing.stop();

      const next = new Deliveries();
      await bus.subscribe({ topic, group, maxBatchSize: 4, handler: next.handler });
      await next.until(() => values(next.records).includes('r9'), 'the last record', timeoutMs);
      // Not from the start (r0-r3 were committed) and not past r4-r7 (never committed).
      expect(values(next.records)).toEqual(['r4', 'r5', 'r6', 'r7', 'r8', 'r9']);
    });

    it('stop() lets the in-flight batch finish and commits it', async () => {
      const topic = await topicWith(1);
      const group = unique('g');
      await bus.publish(
        topic,
        range(6).map((i) => record('k', `r${i}`)),
      );
      const first = new Deliveries();
      const entered = Promise.withResolvers<void>();
      const release = Promise.withResolvers<void>();
      const sub = await bus.subscribe({
        topic,
        group,
        maxBatchSize: 3,
        handler: async (batch) => {
          entered.resolve();
          await release.promise;
          await first.handler(batch);
        },
      });
      await entered.promise;
      let stopped = false;
      const stopping = sub.stop().then(() => (stopped = true));
      await sleep(300);
      expect(stopped).toBe(false);
      release.resolve();
      await stopping;
      expect(first.batches.map((b) => values(b.records))).toEqual([['r0', 'r1', 'r2']]);
      expect(sub.assignment()).toEqual([]);

      const next = new Deliveries();
      await bus.subscribe({ topic, group, handler: next.handler });
      await next.until(() => values(next.records).includes('r5'), 'the last record', timeoutMs);
      expect(values(next.records)).toEqual(['r3', 'r4', 'r5']);
    });

    it('with manual commit, reads on without committing; a new member resumes at the last commit, never behind it', async () => {
      const topic = await topicWith(1);
      const group = unique('g');
      await bus.publish(
        topic,
        range(10).map((i) => record('k', `r${i}`)),
      );
      // Returning at once commits nothing, and the partition is read to its end meanwhile.
      const first = new Deliveries();
      const a = await bus.subscribe({ topic, group, maxBatchSize: 3, commit: 'manual', handler: first.handler });
      await first.until(() => first.records.length >= 10, 'all ten records without a commit', timeoutMs);
      expect(first.batches.length).toBeGreaterThan(1);
      await a.stop();
      expect(await a.commit(0, '1')).toBe(false);

      const second = new Deliveries();
      const b = await bus.subscribe({ topic, group, maxBatchSize: 3, commit: 'manual', handler: second.handler });
      await second.until(() => second.records.length >= 10, 'all ten records again', timeoutMs);
      expect(values(second.records)).toEqual(range(10).map((i) => `r${i}`));
      expect(await b.commit(0, '4')).toBe(true);
      // Backwards changes nothing; past what was handed out is refused; a partition not owned is not committed.
      expect(await b.commit(0, '2')).toBe(true);
      await expect(b.commit(0, '11')).rejects.toMatchObject({ code: 'bus_commit_refused' });
      await expect(b.commit(0, 'x')).rejects.toMatchObject({ code: 'bus_commit_refused' });
      expect(await b.commit(1, '0')).toBe(false);
      await b.stop();

      const third = new Deliveries();
      const c = await bus.subscribe({ topic, group, maxBatchSize: 3, handler: third.handler });
      await third.until(() => values(third.records).includes('r9'), 'the last record', timeoutMs);
      expect(values(third.records)).toEqual(['r4', 'r5', 'r6', 'r7', 'r8', 'r9']);
      // A subscription that commits on return has no manual commit.
      await expect(c.commit(0, '10')).rejects.toMatchObject({ code: 'bus_invalid_option' });
    });

    it("with manual commit, a partition taken by a new member drops the old owner's uncommitted progress", async () => {
      const topic = await topicWith(2);
      const group = unique('g');
      const keys = [keyFor(0, 2), keyFor(1, 2)];
      await bus.publish(
        topic,
        range(8).map((i) => record(keys[i % 2]!, `r${i}`)),
      );
      const first = new Deliveries();
      const a = await bus.subscribe({ topic, group, commit: 'manual', handler: first.handler });
      await first.until(() => first.records.length >= 8, 'all eight records', timeoutMs);
      expect(await a.commit(0, '1')).toBe(true);
      expect(await a.commit(1, '1')).toBe(true);

      const second = new Deliveries();
      const b = await bus.subscribe({ topic, group, commit: 'manual', handler: second.handler });
      await eventually(
        () => a.assignment().length === 1 && b.assignment().length === 1,
        'the two members to own one partition each',
        timeoutMs,
      );
      const [lost] = b.assignment();
      // The new owner reads from the last commit: what the old one read past it comes again.
      await second.until(() => second.records.length >= 3, "the moved partition's uncommitted records", timeoutMs);
      expect(second.records.every((r) => r.partition === lost)).toBe(true);
      expect(second.records.map((r) => r.offset)).toEqual(['1', '2', '3']);
      // The old owner can no longer commit it.
      expect(await a.commit(lost!, '4')).toBe(false);
      await b.stop();
      await a.stop();
    });

    it('carries keys, headers and binary values unchanged, with offsets and timestamps', async () => {
      const partitions = 3;
      const topic = await topicWith(partitions);
      const bytes = Buffer.from(range(256));
      const headers = { 'content-type': 'application/avro', trace: 'ü-✓-🔑' };
      const before = Date.now();
      await bus.publish(topic, [
        { key: 'ключ/🔑', value: bytes, headers },
        { key: 'empty', value: Buffer.alloc(0) },
      ]);
      const after = Date.now();
      bytes.fill(0); // the bus keeps its own copy
      const got = new Deliveries();
      await bus.subscribe({ topic, group: unique('g'), handler: got.handler });
      await got.until(() => got.records.length >= 2, 'both records', timeoutMs);

      const binary = got.records.find((r) => r.key === 'ключ/🔑')!;
      expect(Buffer.isBuffer(binary.value)).toBe(true);
      expect(binary.value.equals(Buffer.from(range(256)))).toBe(true);
      expect(binary.headers).toEqual(headers);
      expect(binary.partition).toBe(partitionForKey('ключ/🔑', partitions));
      expect(binary.topic).toBe(topic);
      expect(binary.offset).toMatch(/^\d+$/);
      expect(binary.timestamp).toBeGreaterThanOrEqual(before);
      expect(binary.timestamp).toBeLessThanOrEqual(after);
      const empty = got.records.find((r) => r.key === 'empty')!;
      expect(empty.value.length).toBe(0);
      expect(empty.headers).toEqual({});
    });

    it('starts a new group at the end of the topic when fromBeginning is false', async () => {
      const topic = await topicWith(2);
      await bus.publish(
        topic,
        range(5).map((i) => record(`k${i}`, `old-${i}`)),
      );
      const got = new Deliveries();
      await bus.subscribe({ topic, group: unique('g'), handler: got.handler, fromBeginning: false });
      // A broker resolves "the end" on the member's first fetch, so keep publishing until something arrives.
      for (let i = 0; got.records.length === 0; i++) {
        if (i * 200 > timeoutMs) throw new Error('no new record arrived');
        await bus.publish(topic, [record(`k${i}`, `new-${i}`)]);
        await got.until(() => got.records.length > 0, 'a new record', 200).catch(() => undefined);
      }
      expect(values(got.records).filter((v) => v.startsWith('old-'))).toEqual([]);
    });

    it('close() stops every subscription and refuses further use', async () => {
      const topic = await topicWith(2);
      const sub = await bus.subscribe({ topic, group: unique('g'), handler: new Deliveries().handler });
      await eventually(() => sub.assignment().length === 2, 'the member to own both partitions', timeoutMs);
      await bus.close();
      expect(sub.assignment()).toEqual([]);
      await expect(bus.publish(topic, [record('k', 'v')])).rejects.toMatchObject({ code: 'bus_closed' });
      await expect(
        bus.subscribe({ topic, group: unique('g'), handler: new Deliveries().handler }),
      ).rejects.toMatchObject({ code: 'bus_closed' });
    });
  });
}

/** Records every batch a handler gets (and passes it on to `also`); tests wait on conditions over them. */
class Deliveries {
  readonly batches: Batch[] = [];
  readonly #waiters = new Set<() => void>();
  readonly #also: Deliveries | undefined;

  constructor(also?: Deliveries) {
    this.#also = also;
  }

  readonly handler: BatchHandler = async (batch) => {
    this.batches.push(batch);
    for (const check of this.#waiters) check();
    await this.#also?.handler(batch);
  };

  get records(): BusRecord[] {
    return this.batches.flatMap((b) => b.records);
  }

  /** Resolves once `condition` holds, checking after each batch; fails after `timeoutMs` naming what it waited for. */
  until(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!condition()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${this.records.length} records so far)`),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }
}

/** For state the Bus API has no event for (a rebalance's outcome). */
async function eventually(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

function unique(what: string): string {
  return `contract.${what}.${randomUUID().slice(0, 8)}`;
}

function record(key: string, value: string): OutgoingRecord {
  return { key, value: Buffer.from(value) };
}

function values(records: readonly BusRecord[]): string[] {
  return records.map((r) => r.value.toString());
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function isIncreasing(xs: readonly bigint[]): boolean {
  return xs.every((x, i) => i === 0 || xs[i - 1]! < x);
}

/** A key that lands on `partition` of a topic with `partitions` partitions. */
function keyFor(partition: number, partitions: number): string {
  for (let i = 0; ; i++) if (partitionForKey(`key-${i}`, partitions) === partition) return `key-${i}`;
}
