import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickHouseStore, failureKind, insertResilient, type Row } from '@aispm/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChdbHttp, type ChdbHttpServer } from '../support/chdb-http.ts';
import { closeServer, freePort } from '../support/ports.ts';

/**
 * The ClickHouse server side of store failures (issue 22): the errors @clickhouse/client
 * raises, classified as on chdb. The engine's errors come over HTTP from the chdb-http
 * stand-in (a loopback server running the real engine, NOT a ClickHouse server); the
 * network's from a port where nothing listens and a server that never answers.
 */
const folder = mkdtempSync(join(tmpdir(), 'aispm-resilient-http-'));
let http: ChdbHttpServer;
let store: ClickHouseStore;

beforeAll(async () => {
  http = await startChdbHttp({ path: folder });
  store = await ClickHouseStore.open({ url: http.url, username: 'default', password: '', database: 'aispm' });
  await store.command(
    `CREATE TABLE t (tenant String, n UInt32) ENGINE = MergeTree ORDER BY (tenant, n)
     SETTINGS non_replicated_deduplication_window = 1000`,
  );
});

afterAll(async () => {
  await store.close();
  await http.close();
  rmSync(folder, { recursive: true, force: true });
});

const failureOf = (operation: Promise<unknown>): Promise<unknown> =>
  operation.then(
    () => {
      throw new Error('expected the operation to fail');
    },
    (e: unknown) => e,
  );

describe('store failures through @clickhouse/client', () => {
  it('calls refused rows rejected, a missing table blocked, an unreachable or silent server retryable', async () => {
    const refused = await failureOf(store.insert('t', [{ tenant: 'a', n: -1 }]));
    expect(refused).toMatchObject({ code: 'store_insert_failed' });
    expect(failureKind(refused)).toBe('rejected');
    const missing = await failureOf(store.insert('no_such_table', [{ tenant: 'a' }]));
    expect(missing).toMatchObject({ engineCode: 60 });
    expect(failureKind(missing)).toBe('blocked');

    const port = await freePort();
    const down = new ClickHouseStore({
      url: `http://127.0.0.1:${port}`,
      username: 'default',
      password: '',
      database: 'aispm',
    });
    const unreachable = await failureOf(down.insert('t', [{ tenant: 'a', n: 1 }]));
    expect(unreachable).toMatchObject({ code: 'store_unreachable' });
    expect(failureKind(unreachable)).toBe('retryable');
    await down.close();

    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const slow = new ClickHouseStore({
      url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
      username: 'default',
      password: '',
      database: 'aispm',
      requestTimeoutMs: 300,
    });
    const timeout = await failureOf(slow.insert('t', [{ tenant: 'a', n: 1 }]));
    expect(timeout).toMatchObject({ code: 'store_timeout' });
    expect(failureKind(timeout)).toBe('retryable');
    await slow.close();
    await closeServer(silent);
  });

  it('splits a batch the server refuses down to its bad rows, under tokens a replay meets again', async () => {
    const batch: Row[] = Array.from({ length: 40 }, (_, n) => ({ tenant: 'http', n }));
    batch[5] = { tenant: 'http', n: 'five' };
    const insert = (items: readonly Row[], token: string | undefined) =>
      store.insert('t', items, token === undefined ? {} : { dedupToken: token });
    for (let replay = 0; replay < 2; replay++) {
      const refused = await insertResilient(batch, 'http-batch', insert);
      expect(refused.map((r) => r.index)).toEqual([5]);
      expect(failureKind(refused[0]!.error)).toBe('rejected');
      const [row] = await store.query<{ c: string }>("SELECT count() AS c FROM t WHERE tenant = 'http'");
      expect(row!.c).toBe('39');
    }
  });
});
