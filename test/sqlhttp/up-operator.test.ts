import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../support/until.ts';

/**
 * `aispm up` with only AISPM_SQL_OPERATOR_KEYS: the endpoint is on, and user
 * `operator` reads the pipeline's own tables, read-only.
 */
const repo = join(import.meta.dirname, '../..');
const dataDir = mkdtempSync(join(tmpdir(), 'aispm-up-operator-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
const operatorKey = randomBytes(24).toString('hex');

describe('aispm up (embedded) with AISPM_SQL_OPERATOR_KEYS', () => {
  it('serves the operator the migrations and pipeline stats tables, and refuses writes', async () => {
    const child = spawn(process.execPath, [join(repo, 'services/cli/src/main.ts'), 'up', '--status-every', '1'], {
      cwd: repo,
      env: {
        ...process.env,
        AISPM_DATA_DIR: dataDir,
        AISPM_GATEWAY_PORT: '0',
        AISPM_METRICS_PORT: '0',
        AISPM_SQL_PORT: '0',
        AISPM_SQL_OPERATOR_KEYS: `operator:${operatorKey}`,
        AISPM_LOG_LEVEL: 'info',
      },
    });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const context = (): string => `aispm up's last lines:\n${stderr.trim().split('\n').slice(-15).join('\n')}`;
    try {
      await until(() => /"aispm is up"/.test(stderr), 'aispm up to start', {
        timeoutMs: 60_000,
        everyMs: 100,
        context,
      });
      const up = JSON.parse(stderr.split('\n').find((line) => line.includes('"aispm is up"'))!) as { sql: string };
      expect(up.sql).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const client = createClient({
        url: up.sql,
        username: 'operator',
        password: operatorKey,
        database: 'aispm',
        log: { level: ClickHouseLogLevel.OFF },
      });
      try {
        const [migrations] = await (
          await client.query({ query: 'SELECT count() AS n FROM aispm_migrations', format: 'JSONEachRow' })
        ).json<{ n: number }>();
        expect(Number(migrations?.n)).toBeGreaterThan(10);
        const stats = await (
          await client.query({ query: 'SELECT count() AS n FROM pipeline_stats', format: 'JSONEachRow' })
        ).json<{ n: number }>();
        expect(stats).toHaveLength(1);
        await expect(client.command({ query: 'TRUNCATE TABLE pipeline_stats' })).rejects.toMatchObject({
          code: '164',
        });
      } finally {
        await client.close();
      }
    } finally {
      child.kill('SIGTERM');
      expect(await exited, context()).toBe(0);
    }
  }, 120_000);
});
