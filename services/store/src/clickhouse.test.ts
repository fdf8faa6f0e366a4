import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickHouseContainer, type StartedClickHouseContainer } from '@testcontainers/clickhouse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChdbHttp, type ChdbHttpServer } from '../../../test/support/chdb-http.ts';
import { loadConfig } from '@aispm/core';
import { ClickHouseStore, type ClickHouseStoreOptions } from './clickhouse.ts';
import { describeStoreContract } from './store.contract.ts';
import { closeServer, freePort } from '../../../test/support/ports.ts';

/** The server image testcontainers starts when no AISPM_CLICKHOUSE_URL is given (an LTS release). */
const IMAGE = 'clickhouse/clickhouse-server:25.8';
const serverUrl = process.env.AISPM_CLICKHOUSE_URL;

function dockerAnswers(): boolean {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

if (serverUrl !== undefined && serverUrl !== '') {
  const { url, username, password } = loadConfig().clickhouse;
  describeStoreContract({
    name: `ClickHouseStore → ClickHouse server at ${url} (AISPM_CLICKHOUSE_URL)`,
    open: (database) => ClickHouseStore.open({ url, username, password, database }),
  });
} else if (dockerAnswers()) {
  let container: StartedClickHouseContainer | undefined;
  beforeAll(async () => {
    container = await new ClickHouseContainer(IMAGE).start();
  }, 300_000);
  afterAll(async () => {
    await container?.stop();
  });
  describeStoreContract({
    name: `ClickHouseStore → ClickHouse server ${IMAGE} (testcontainers)`,
    open: (database) => {
      if (container === undefined) throw new Error(`the ${IMAGE} container did not start; see the beforeAll error`);
      const { url = '', username, password } = container.getClientOptions();
      return ClickHouseStore.open({ url, username, password, database });
    },
  });
} else {
  describe('Store contract: ClickHouseStore → ClickHouse server', () => {
    it('NOT RUN: no ClickHouse server here (no AISPM_CLICKHOUSE_URL, and `docker info` fails)', (ctx) => {
      const reason =
        'The Store contract did not run against a ClickHouse server: AISPM_CLICKHOUSE_URL is not set and no Docker engine ' +
        'answers `docker info`. To run it, set AISPM_CLICKHOUSE_URL=http://host:8123 (plus AISPM_CLICKHOUSE_USER/_PASSWORD), ' +
        `or start Docker so testcontainers can run ${IMAGE}.`;
      console.warn(`\n*** ${reason}\n`);
      ctx.skip(reason);
    });
  });
}

describe('ClickHouseStore over chdb-http (a loopback stand-in running chdb — NOT a ClickHouse server)', () => {
  const folder = mkdtempSync(join(tmpdir(), 'aispm-chdb-http-'));
  let http: ChdbHttpServer | undefined;
  beforeAll(async () => {
    http = await startChdbHttp({ path: folder, password: 'secret' });
  });
  afterAll(async () => {
    await http?.close();
    rmSync(folder, { recursive: true, force: true });
  });
  const options = (database: string, password = 'secret'): ClickHouseStoreOptions => {
    if (http === undefined) throw new Error('chdb-http did not start; see the beforeAll error');
    return { url: http.url, username: 'default', password, database };
  };

  describeStoreContract({
    name: 'ClickHouseStore → @clickhouse/client → HTTP → chdb-http stand-in (real engine, NOT a ClickHouse server)',
    open: (database) => ClickHouseStore.open(options(database)),
  });

  it("takes query parameters past Node's 16 KiB request line, as a server does up to http_max_uri_size", async () => {
    // A replay's probe names every event id of its batch: 5,000 ids are about 200 KB of URL.
    const ids = Array.from({ length: 5000 }, (_, i) => `event-${i}-0123456789abcdef0123456789abcdef`);
    const store = await ClickHouseStore.open(options('params'));
    try {
      const [row] = await store.query<{ n: string | number }>('SELECT length({ids:Array(String)}) AS n', { ids });
      expect(Number(row!.n)).toBe(5000);
    } finally {
      await store.close();
    }
  });

  it('a wrong password fails open() with store_auth_failed, naming the settings to check', async () => {
    await expect(ClickHouseStore.open(options('auth', 'wrong'))).rejects.toMatchObject({
      code: 'store_auth_failed',
      engineCode: 516,
      message: expect.stringContaining('AISPM_CLICKHOUSE_PASSWORD') as unknown,
    });
  });
});

describe('ClickHouseStore connection failures', () => {
  it('a URL where nothing listens fails with store_unreachable, naming the URL', async () => {
    const port = await freePort();
    const store = new ClickHouseStore({
      url: `http://127.0.0.1:${port}/`,
      username: 'default',
      password: '',
      database: 'aispm',
    });
    await expect(store.query('SELECT 1')).rejects.toMatchObject({
      code: 'store_unreachable',
      message: expect.stringContaining(`cannot reach ClickHouse at http://127.0.0.1:${port} (ECONNREFUSED)`) as unknown,
    });
    await store.close();
  });

  it('refuses a URL with credentials in it, so they cannot leak into messages', () => {
    expect(
      () =>
        new ClickHouseStore({
          url: 'http://user:pw@127.0.0.1:8123',
          username: 'default',
          password: '',
          database: 'aispm',
        }),
    ).toThrow(
      expect.objectContaining({ code: 'store_bad_url', message: expect.not.stringContaining('pw') as unknown }),
    );
  });

  it('an answer without a ClickHouse error text (a 431 for a long URL) says what may be in the way', async () => {
    // Node's own HTTP server, with its 16 KiB limit on the request line, as a proxy might be.
    const strict = createServer((_req, res) => res.end('1\n'));
    await new Promise<void>((resolve) => strict.listen(0, '127.0.0.1', resolve));
    const store = new ClickHouseStore({
      url: `http://127.0.0.1:${(strict.address() as AddressInfo).port}`,
      username: 'default',
      password: '',
      database: 'aispm',
    });
    const ids = Array.from({ length: 1000 }, (_, i) => `event-${i}-0123456789abcdef0123456789abcdef`);
    await expect(store.query('SELECT {ids:Array(String)}', { ids })).rejects.toMatchObject({
      code: 'store_request_failed',
      message: expect.stringContaining('http_max_uri_size') as unknown,
    });
    await store.close();
    await closeServer(strict);
  });

  it('a server that does not answer in time fails with store_timeout', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const store = new ClickHouseStore({
      url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
      username: 'default',
      password: '',
      database: 'aispm',
      requestTimeoutMs: 300,
    });
    await expect(store.query('SELECT 1')).rejects.toMatchObject({ code: 'store_timeout' });
    await store.close();
    await closeServer(silent);
  });
});
