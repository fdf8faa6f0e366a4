import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../support/until.ts';

/**
 * `aispm up` with read keys: the store it fills is readable by a stock ClickHouse
 * client (@clickhouse/client) through the read-only SQL endpoint, one tenant per key.
 */
const repo = join(import.meta.dirname, '../..');
const dataDir = mkdtempSync(join(tmpdir(), 'aispm-up-sql-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const TENANTS = ['acme', 'globex'] as const;
type Tenant = (typeof TENANTS)[number];
const ingestKey = (tenant: Tenant): string => `${tenant}-ingest-key-0123456789`;
const readKeys: Record<Tenant, string> = {
  acme: randomBytes(24).toString('hex'),
  globex: randomBytes(24).toString('hex'),
};

async function sendSpan(gateway: string, tenant: Tenant): Promise<void> {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': `${tenant}-app` }),
    spanProcessors: [
      new SimpleSpanProcessor(
        new OTLPTraceExporter({
          url: `${gateway}/v1/traces`,
          headers: { authorization: `Bearer ${ingestKey(tenant)}` },
        }),
      ),
    ],
  });
  provider
    .getTracer('test')
    .startSpan('chat gpt-4o', {
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.usage.input_tokens': 100,
        'gen_ai.usage.output_tokens': 10,
        'gen_ai.agent.name': `${tenant}-bot`,
      },
    })
    .end();
  await provider.shutdown();
}

describe('aispm up (embedded) with AISPM_SQL_KEYS', () => {
  it('serves what it stored to a stock ClickHouse client, one tenant per key, read-only, until SIGTERM', async () => {
    const child = spawn(process.execPath, [join(repo, 'services/cli/src/main.ts'), 'up', '--status-every', '1'], {
      cwd: repo,
      env: {
        ...process.env,
        AISPM_DATA_DIR: dataDir,
        AISPM_GATEWAY_PORT: '0',
        AISPM_METRICS_PORT: '0',
        AISPM_SQL_PORT: '0',
        AISPM_GATEWAY_KEYS: TENANTS.map((t) => `${t}:${ingestKey(t)}`).join(','),
        AISPM_SQL_KEYS: TENANTS.map((t) => `${t}:${readKeys[t]}`).join('\n'),
        AISPM_LOG_LEVEL: 'info',
      },
    });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const context = (): string => `aispm up's last lines:\n${stderr.trim().split('\n').slice(-15).join('\n')}`;
    const clients: ClickHouseClient[] = [];
    try {
      await until(() => /"aispm is up"/.test(stderr), 'aispm up to start', {
        timeoutMs: 60_000,
        everyMs: 100,
        context,
      });
      const up = JSON.parse(stderr.split('\n').find((line) => line.includes('"aispm is up"'))!) as {
        gateway: string;
        sql: string;
      };
      expect(up.sql).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(up.sql).not.toBe(up.gateway);
      expect(stderr).toContain('"sql endpoint listening"');
      for (const tenant of TENANTS) await sendSpan(up.gateway, tenant);
      await until(() => /"stored":2\b/.test(stderr), 'a status line counting both stored events', {
        timeoutMs: 40_000,
        everyMs: 100,
        context,
      });

      const client = (tenant: Tenant, password = readKeys[tenant]): ClickHouseClient => {
        const made = createClient({
          url: up.sql,
          username: tenant,
          password,
          database: 'aispm',
          // Refusals are expected here; the client's own error log would only repeat them.
          log: { level: ClickHouseLogLevel.OFF },
        });
        clients.push(made);
        return made;
      };
      for (const tenant of TENANTS) {
        const rows = await (
          await client(tenant).query({
            query: 'SELECT tenant, app, agent, input_tokens FROM events FINAL WHERE provider = {provider:String}',
            query_params: { provider: 'openai' },
            format: 'JSONEachRow',
          })
        ).json<Record<string, unknown>>();
        // No WHERE on tenant: the key alone decides which rows exist.
        expect(rows).toEqual([{ tenant, app: `${tenant}-app`, agent: `${tenant}-bot`, input_tokens: 100 }]);
      }
      const other = TENANTS[1];
      const forged = await (
        await client('acme').query({
          query: `SELECT count() AS n FROM events WHERE tenant = '${other}'`,
          format: 'JSONEachRow',
        })
      ).json<{ n: number | string }>();
      expect(Number(forged[0]!.n)).toBe(0);

      const write = await client('acme')
        .command({ query: "INSERT INTO events (tenant, event_id) VALUES ('globex', 'forged')" })
        .then(
          () => null,
          (err: Error & { code?: string }) => err,
        );
      expect(write?.code).toBe('164');
      expect(write?.message).toMatch(/readonly/i);
      // A tenant's read key is not another tenant's.
      const crossed = await client('globex', readKeys.acme)
        .query({ query: 'SELECT 1', format: 'JSONEachRow' })
        .then(
          () => null,
          (err: Error & { code?: string }) => err,
        );
      expect(crossed?.code).toBe('516');
      const total = await (
        await client('globex').query({
          query: "SELECT count() AS n FROM events WHERE event_id = 'forged'",
          format: 'JSONEachRow',
        })
      ).json<{ n: number | string }>();
      expect(Number(total[0]!.n)).toBe(0);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stderr).toContain('"stopped"');
      // Closed with the rest: nothing listens on the endpoint's port any more.
      await expect(fetch(`${up.sql}/ping`)).rejects.toThrow();
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    }
  }, 120_000);
});
