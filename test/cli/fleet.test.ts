import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../support/until.ts';

/**
 * `aispm fleet` (the compose file's demo profile) drives a gateway over OTLP/HTTP:
 * every event it was acknowledged for is stored once, for the key's tenant, with
 * the demo's agents attributed by trace assembly.
 */
const run = promisify(execFile);
const repo = join(import.meta.dirname, '../..');
const cli = join(repo, 'services/cli/src/main.ts');
const dir = mkdtempSync(join(tmpdir(), 'aispm-fleet-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('aispm fleet against aispm up', () => {
  it('has every acknowledged event stored once, under the tenant of its key', async () => {
    const ingestKey = randomBytes(16).toString('hex');
    const readKey = randomBytes(16).toString('hex');
    writeFileSync(join(dir, 'key'), `${ingestKey}\n`);
    const child = spawn(process.execPath, [cli, 'up', '--status-every', '1'], {
      cwd: repo,
      env: {
        ...process.env,
        AISPM_DATA_DIR: join(dir, 'data'),
        AISPM_GATEWAY_PORT: '0',
        AISPM_METRICS_PORT: '0',
        AISPM_SQL_PORT: '0',
        AISPM_GATEWAY_KEYS: `acme:${ingestKey}`,
        AISPM_SQL_KEYS: `acme:${readKey}`,
        AISPM_ATTRIBUTION_WAIT_MS: '1000',
        AISPM_LOG_LEVEL: 'info',
      },
    });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const context = (): string => `aispm up's last lines:\n${stderr.trim().split('\n').slice(-15).join('\n')}`;
    try {
      await until(() => /"aispm is up"/.test(stderr), 'aispm up to start', { timeoutMs: 60_000, context });
      const up = JSON.parse(stderr.split('\n').find((line) => line.includes('"aispm is up"'))!) as {
        gateway: string;
        sql: string;
      };
      const { stdout } = await run(
        process.execPath,
        [cli, 'fleet', '--gateway', up.gateway, '--key-file', join(dir, 'key'), '--duration', '4', '--rate', '400'],
        { timeout: 120_000 },
      );
      const sent = Number(/sent (\d+) events/.exec(stdout)?.[1]);
      expect(sent).toBeGreaterThan(1_000);

      const client = createClient({
        url: up.sql,
        username: 'acme',
        password: readKey,
        database: 'aispm',
        log: { level: ClickHouseLogLevel.OFF },
      });
      try {
        const count = async (sql: string): Promise<number> =>
          Number((await (await client.query({ query: sql, format: 'JSONEachRow' })).json<{ n: string }>())[0]!.n);
        await until(
          async () => (await count('SELECT count() AS n FROM events FINAL')) >= sent,
          `${sent} events stored`,
          {
            timeoutMs: 90_000,
            everyMs: 500,
            context,
          },
        );
        expect(await count('SELECT count() AS n FROM events FINAL')).toBe(sent);
        expect(await count("SELECT count() AS n FROM events FINAL WHERE tenant != 'acme'")).toBe(0);
        // The third-party apps name their agent on the agent span only: trace assembly gave it to the calls below.
        expect(await count("SELECT count() AS n FROM events FINAL WHERE attribution = 'inherited'")).toBeGreaterThan(0);
        expect(await count("SELECT uniqExact(agent) AS n FROM events FINAL WHERE agent != ''")).toBeGreaterThan(5);
      } finally {
        await client.close();
      }
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  }, 240_000);
});
