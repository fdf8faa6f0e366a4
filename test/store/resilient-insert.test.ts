import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChdbStore, failureKind, insertResilient, StoreError, type Row } from '@aispm/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Retries only on retryable errors, and a batch that goes on past rows the engine
 * refuses (issue 22), on the real engine (chdb): the errors classified are the
 * engine's own, provoked by statements and rows it refuses.
 */
const folder = mkdtempSync(join(tmpdir(), 'aispm-resilient-'));
let store: ChdbStore;

beforeAll(async () => {
  store = await ChdbStore.open({ path: folder, database: 'aispm' });
  await store.command(
    `CREATE TABLE t (tenant String, n UInt32, at DateTime64(3, 'UTC')) ENGINE = MergeTree ORDER BY (tenant, n)
     SETTINGS non_replicated_deduplication_window = 1000`,
  );
});

afterAll(async () => {
  await store.close();
  rmSync(folder, { recursive: true, force: true });
});

/** The error a store operation fails with. */
async function failureOf(operation: Promise<unknown>): Promise<StoreError> {
  const err: unknown = await operation.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StoreError);
  return err as StoreError;
}

const rows = (tenant: string, count: number): Row[] =>
  Array.from({ length: count }, (_, n) => ({ tenant, n, at: '2026-12-01 10:00:00.000' }));

const countOf = async (tenant: string): Promise<number> =>
  Number(
    (await store.query<{ c: string }>('SELECT count() AS c FROM t WHERE tenant = {tenant:String}', { tenant }))[0]!.c,
  );

describe('store failures, classified by the engine error (chdb)', () => {
  it('calls rows the engine cannot parse rejected, a missing table blocked, memory and time limits retryable', async () => {
    const badTime = await failureOf(store.insert('t', [{ tenant: 'a', n: 1, at: 'not a time' }]));
    expect(badTime.engineCode).toBeDefined();
    expect(failureKind(badTime)).toBe('rejected');
    const badNumber = await failureOf(store.insert('t', [{ tenant: 'a', n: 'many', at: '2026-12-01 10:00:00' }]));
    expect(failureKind(badNumber)).toBe('rejected');
    const missing = await failureOf(store.insert('no_such_table', [{ tenant: 'a' }]));
    expect(missing.engineCode).toBe(60);
    expect(failureKind(missing)).toBe('blocked');
    const memory = await failureOf(
      store.query('SELECT groupArray(number) FROM numbers(10000000) SETTINGS max_memory_usage = 1000000'),
    );
    expect(memory.engineCode).toBe(241);
    expect(failureKind(memory)).toBe('retryable');
    const slow = await failureOf(
      store.query(
        "SELECT sleepEachRow(0.01) FROM numbers(100) SETTINGS max_execution_time = 0.05, timeout_overflow_mode = 'throw', max_block_size = 1",
      ),
    );
    expect(slow.engineCode).toBe(159);
    expect(failureKind(slow)).toBe('retryable');
    expect(failureKind(new Error('not a store error'))).toBe('blocked');
  });
});

describe('insertResilient on chdb', () => {
  const insert = (items: readonly Row[], token: string | undefined) =>
    store.insert('t', items, token === undefined ? {} : { dedupToken: token });

  it('stores every row but the ones the engine refuses, returns those with the error, and a replay stores nothing twice', async () => {
    const batch = rows('bisect', 100);
    // Refused by the column's type: a negative UInt32, a word for a number.
    batch[37] = { ...batch[37], n: -5 };
    batch[81] = { ...batch[81], n: 'many' };
    const tries: number[] = [];
    const counting = (items: readonly Row[], token: string | undefined) => {
      tries.push(items.length);
      return insert(items, token);
    };
    const refused = await insertResilient(batch, 'batch-1', counting);
    expect(refused.map((r) => r.index)).toEqual([37, 81]);
    expect(refused.map((r) => r.item)).toEqual([batch[37], batch[81]]);
    for (const r of refused) expect(failureKind(r.error)).toBe('rejected');
    expect(refused[0]!.error.message).toMatch(/UInt32/);
    expect(await countOf('bisect')).toBe(98);
    // Bisection, not one insert per row.
    expect(tries.length).toBeLessThan(30);
    // The same batch again (a replay after a crash): the same parts under the same tokens, all dropped.
    const again = await insertResilient(batch, 'batch-1', insert);
    expect(again.map((r) => r.index)).toEqual([37, 81]);
    expect(await countOf('bisect')).toBe(98);
    const stored = await store.query<{ n: number }>("SELECT n FROM t WHERE tenant = 'bisect' ORDER BY n");
    expect(stored.map((r) => Number(r.n))).toEqual([...Array(100).keys()].filter((n) => n !== 37 && n !== 81));
  });

  it('retries a retryable failure under the same token, and the insert that was written before it failed counts once', async () => {
    const retryable = await failureOf(
      store.query('SELECT groupArray(number) FROM numbers(10000000) SETTINGS max_memory_usage = 1000000'),
    );
    const batch = rows('retry', 50);
    const tokens: (string | undefined)[] = [];
    let failures = 0;
    const flaky = async (items: readonly Row[], token: string | undefined) => {
      tokens.push(token);
      await insert(items, token);
      // Written, but the answer is lost: the caller sees the engine's error.
      if (failures++ < 2) throw retryable;
    };
    const waits: number[] = [];
    const retried: number[] = [];
    const refused = await insertResilient(batch, 'batch-2', flaky, {
      retry: { attempts: 5, initialMs: 10, maxMs: 15 },
      wait: (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
      onRetry: (_, n) => retried.push(n),
    });
    expect(refused).toEqual([]);
    expect(tokens).toEqual(['batch-2', 'batch-2', 'batch-2']);
    expect(waits).toEqual([10, 15]);
    expect(retried).toEqual([1, 2]);
    expect(await countOf('retry')).toBe(50);
  });

  it('gives up on a retryable failure after its tries, and never retries a blocked one', async () => {
    const retryable = await failureOf(
      store.query('SELECT groupArray(number) FROM numbers(10000000) SETTINGS max_memory_usage = 1000000'),
    );
    let tries = 0;
    const down = () => {
      tries++;
      return Promise.reject(retryable);
    };
    const noWait = { retry: { attempts: 3, initialMs: 1, maxMs: 1 }, wait: () => Promise.resolve() };
    await expect(insertResilient(rows('down', 3), 'x', down, noWait)).rejects.toBe(retryable);
    expect(tries).toBe(3);
    tries = 0;
    const blocked = (items: readonly Row[]) => {
      tries++;
      return store.insert('no_such_table', items);
    };
    await expect(insertResilient(rows('blocked', 3), 'y', blocked, noWait)).rejects.toMatchObject({ engineCode: 60 });
    expect(tries).toBe(1);
  });
});
