import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consumerGroups, createEventCodec, eventKey, loadConfig, silentLogger } from '@aispm/core';
import { MemoryBus, type BusRecord } from '@aispm/bus';
import {
  ChdbStore,
  migrate,
  StoreError,
  type AvroColumns,
  type AvroRecords,
  type InsertOptions,
  type Store,
} from '@aispm/store';
import { generateTraffic } from '@aispm/cli';
import { Processor, STORE_REJECTED } from '@aispm/processor';
import { afterAll, describe, expect, it, vi } from 'vitest';

/**
 * Exactly-once into the store past failures (issue 22), on the real engine (chdb)
 * through the processor: a row the engine refuses for good goes to the dead-letter
 * topic with the engine's error while the rest of its batch is stored once and the
 * batch committed; a retryable failure is tried again under the same token and,
 * though the failed try was written, nothing is stored twice.
 */
const config = loadConfig({});
const { topics } = config;
const folder = mkdtempSync(join(tmpdir(), 'aispm-eo-dlq-'));
const stores: ChdbStore[] = [];
afterAll(async () => {
  for (const s of stores) await s.close();
  rmSync(folder, { recursive: true, force: true });
});

const traffic = [
  ...generateTraffic({ seed: 29, total: 600, tenant: 'acme', spanMs: 2 * 3_600_000, endMs: Date.now() - 60_000 }),
];
const codec = createEventCodec();
const GROUP = 'eo-dlq';

/** The store as the processor sees it: `insertAvro` goes through `wrap`, everything else straight to the engine. */
function wrapped(
  store: Store,
  wrap: (table: string, records: AvroRecords, insert: (records: AvroRecords) => Promise<void>) => Promise<void>,
): Store {
  return new Proxy(store, {
    get(target, name, receiver) {
      if (name === 'insertAvro') {
        return (table: string, mapping: AvroColumns, records: AvroRecords, options?: InsertOptions) =>
          wrap(table, records, (r) => target.insertAvro(table, mapping, r, options));
      }
      const value: unknown = Reflect.get(target, name, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Runs the whole stream through one processor on a fresh database; returns it, its store and its bus. */
async function run(database: string, wrap: Parameters<typeof wrapped>[1]) {
  const opened = await ChdbStore.open({ path: join(folder, 'chdb'), database });
  stores.push(opened);
  await migrate(opened);
  await opened.command('SYSTEM STOP MERGES');
  const bus = new MemoryBus({ log: () => undefined });
  await bus.ensureTopics(
    [topics.events, topics.scores, topics.findings, topics.deadLetter].map((topic) => ({ topic, partitions: 2 })),
  );
  await bus.publish(
    topics.events,
    traffic.map((e) => ({ key: eventKey(e), value: codec.encode(e) })),
  );
  const processor = new Processor({
    bus,
    store: wrapped(opened, wrap),
    topics,
    topic: topics.events,
    group: GROUP,
    log: silentLogger,
    maxBatchSize: 100,
    concurrency: 2,
    storeRetry: { attempts: 4, initialMs: 5, maxMs: 20 },
    analytics: config.analytics,
  });
  await processor.start();
  await vi.waitUntil(() => processor.stats().received === traffic.length, { timeout: 120_000, interval: 50 });
  await processor.stop();
  const dead: BusRecord[] = [];
  const reader = await bus.subscribe({
    topic: topics.deadLetter,
    group: 'dlq-reader',
    handler: (batch) => {
      dead.push(...batch.records);
      return Promise.resolve();
    },
  });
  await vi.waitUntil(() => bus.backlog(topics.deadLetter, 'dlq-reader').records === 0, { timeout: 10_000 });
  await reader.stop();
  const backlog = bus.backlog(topics.events, consumerGroups(GROUP).agents);
  await bus.close();
  return { store: opened, stats: processor.stats(), dead, backlog };
}

/** Rows per table (no FINAL: a row stored twice shows), distinct events, and the events rollup's count. */
async function counts(store: Store) {
  const [row] = await store.query<Record<string, string>>(
    `SELECT (SELECT count() FROM events) AS events, (SELECT uniqExact(tenant, event_id) FROM events) AS distinct_events,
            (SELECT count() FROM anomaly_scores) AS scores,
            (SELECT countMerge(events) FROM events_per_minute) AS rolled_events,
            (SELECT countMerge(scores) FROM anomaly_scores_per_minute) AS rolled_scores`,
  );
  return Object.fromEntries(Object.entries(row!).map(([k, v]) => [k, Number(v)]));
}

describe('exactly-once into the store past failures (chdb)', () => {
  it('dead-letters the one event the engine refuses, with its error, stores every other once, and commits the batch', async () => {
    const bad = traffic[230]!;
    const badBody = codec.ownBody(codec.encode(bad))!;
    let refusals = 0;
    const { store, stats, dead, backlog } = await run('refused', async (table, records, insert) => {
      const at = table === 'events' ? records.bodies.findIndex((b) => Buffer.from(b).equals(badBody)) : -1;
      if (at < 0) return insert(records);
      refusals++;
      // The record arrives corrupt (an Avro long that never ends): the engine refuses the insert that holds it.
      const bodies = [...records.bodies];
      bodies[at] = Buffer.alloc(12, 0xff);
      return insert({ ...records, bodies });
    });
    // Refused in its batch, then in each half holding it, down to itself.
    expect(refusals).toBeGreaterThan(2);
    expect(await counts(store)).toEqual({
      events: traffic.length - 1,
      distinct_events: traffic.length - 1,
      scores: traffic.length,
      rolled_events: traffic.length - 1,
      rolled_scores: traffic.length,
    });
    const [missing] = await store.query<{ n: string }>(
      'SELECT count() AS n FROM events WHERE tenant = {tenant:String} AND event_id = {id:String}',
      { tenant: bad.tenant, id: bad.event_id },
    );
    expect(missing!.n).toBe('0');
    expect(dead).toHaveLength(1);
    const [letter] = dead;
    expect(codec.decode(letter!.value)).toEqual(codec.decode(codec.encode(bad)));
    expect(letter!.headers['aispm.dlq.code']).toBe(STORE_REJECTED);
    expect(letter!.headers['aispm.dlq.table']).toBe('events');
    expect(letter!.headers['aispm.dlq.reason']).toMatch(/chdb refused the insert of 1 Avro records into events/);
    expect(Number(letter!.headers['aispm.dlq.engine_code'])).toBeGreaterThan(0);
    expect(letter!.headers['aispm.dlq.source']).toMatch(
      new RegExp(`^${topics.events.replace(/\./g, '\\.')}/\\d/\\d+$`),
    );
    expect(stats.deadLettered).toEqual({ [STORE_REJECTED]: 1 });
    expect(stats.storeRetries).toBe(0);
    // The batches, the refused row's included, are committed.
    expect(backlog.records).toBe(0);
  }, 180_000);

  it('tries a retryable failure again under the same token: written before it failed, it is still stored once', async () => {
    const probe = await stores[0]!
      .query('SELECT groupArray(number) FROM numbers(10000000) SETTINGS max_memory_usage = 1000000')
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(probe).toBeInstanceOf(StoreError);
    expect((probe as StoreError).engineCode).toBe(241);
    let failed = 0;
    const { store, stats, dead, backlog } = await run('retried', async (table, records, insert) => {
      await insert(records);
      // Every third events insert and every scores insert at first: written, then the engine's memory error.
      if ((table === 'events' && failed % 3 === 0) || table === 'anomaly_scores') {
        if (failed++ < 40) throw probe;
      }
    });
    expect(failed).toBeGreaterThan(10);
    expect(stats.storeRetries).toBeGreaterThan(10);
    expect(await counts(store)).toEqual({
      events: traffic.length,
      distinct_events: traffic.length,
      scores: traffic.length,
      rolled_events: traffic.length,
      rolled_scores: traffic.length,
    });
    expect(dead).toEqual([]);
    expect(backlog.records).toBe(0);
  }, 180_000);
});
