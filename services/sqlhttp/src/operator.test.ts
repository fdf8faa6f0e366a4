import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { ConfigError } from '@aispm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFixture, type Fixture } from './fixture.ts';
import { parseOperatorKeys, parseReadKeys } from './keys.ts';
import { sqlEndpointConfig } from './options.ts';

let fixture: Fixture;
let operator: ClickHouseClient;
let acme: ClickHouseClient;

const client = (username: string, password: string): ClickHouseClient =>
  createClient({
    url: fixture.url,
    username,
    password,
    database: fixture.database,
    // Refusals are what these tests expect; the client's own error log would only repeat them.
    log: { level: ClickHouseLogLevel.OFF },
  });

beforeAll(async () => {
  fixture = await openFixture();
  operator = client('operator', fixture.keys.operator);
  acme = client('acme', fixture.keys.acme);
}, 120_000);
afterAll(async () => {
  await operator?.close();
  await acme?.close();
  await fixture?.close();
});

const rows = async (c: ClickHouseClient, query: string): Promise<Record<string, unknown>[]> =>
  (await c.query({ query, format: 'JSONEachRow' })).json<Record<string, unknown>>();

describe('SQL endpoint: the operator key', () => {
  it('reads the pipeline stats and the migrations, and no tenant row of any table', async () => {
    expect(await rows(operator, 'SELECT stage, partition FROM pipeline_stats ORDER BY partition')).toEqual([
      { stage: 'trace', partition: 0 },
      { stage: 'agents', partition: 1 },
    ]);
    const [migrations] = await rows(operator, 'SELECT count() AS n FROM aispm_migrations');
    expect(Number(migrations?.n)).toBeGreaterThan(10);
    for (const query of [
      'SELECT * FROM anomaly_scores',
      "SELECT * FROM anomaly_scores WHERE tenant IN ('acme', 'globex', '')",
      'SELECT * FROM events',
      'SELECT * FROM events_per_minute',
      'SELECT * FROM processor_state',
      'SELECT * FROM numbers(5) WHERE number IN (SELECT count() FROM anomaly_scores) AND number > 0',
      'SELECT * FROM pipeline_stats AS s INNER JOIN anomaly_scores AS a ON 1 = 1',
    ]) {
      expect(await rows(operator, query), query).toEqual([]);
    }
  });

  it('a tenant key reads no pipeline stats; the operator user with a tenant key or a wrong key is refused', async () => {
    expect(await rows(acme, 'SELECT * FROM pipeline_stats')).toEqual([]);
    expect(await rows(acme, 'SELECT count() AS n FROM anomaly_scores')).toEqual([{ n: 3 }]);
    for (const password of [fixture.keys.acme, 'not-the-operator-key-at-all']) {
      await expect(rows(client('operator', password), 'SELECT 1 AS x')).rejects.toMatchObject({ code: '516' });
    }
    // The operator's key is no tenant's key.
    await expect(rows(client('acme', fixture.keys.operator), 'SELECT 1 AS x')).rejects.toMatchObject({ code: '516' });
  });

  it('refuses writes and SET for the operator and a tenant alike (164), and leaves the stats as they were', async () => {
    for (const c of [operator, acme]) {
      for (const query of [
        "INSERT INTO pipeline_stats (stage, partition) VALUES ('forged', 9)",
        'TRUNCATE TABLE pipeline_stats',
        'ALTER TABLE pipeline_stats DELETE WHERE 1',
        'SET additional_table_filters = {}',
        'SELECT * FROM anomaly_scores SETTINGS additional_table_filters = {}',
      ]) {
        await expect(c.command({ query }), query).rejects.toMatchObject({ code: '164' });
      }
    }
    expect(await rows(operator, 'SELECT count() AS n FROM pipeline_stats')).toEqual([{ n: 2 }]);
  });

  it('takes operator keys in the read keys’ form, digests included, and refuses a tenant named operator beside them', () => {
    const keys = parseOperatorKeys(
      'operator:0123456789abcdef0123\noperator:sha256:' +
        'b6ad5ab7bc5bb1e5c0a0f2a19f1bd2aac1b86ae2c6bf4c8f1a0d1b27a8ad54f2',
    );
    expect(keys.matches('0123456789abcdef0123')).toBe(true);
    expect(keys.matches('0123456789abcdef012')).toBe(false);
    expect(() => parseOperatorKeys('acme:0123456789abcdef0123')).toThrow(ConfigError);
    expect(() =>
      sqlEndpointConfig({
        store: fixture.store,
        keys: parseReadKeys('operator:0123456789abcdef0123'),
        operatorKeys: keys,
      }),
    ).toThrow(/AISPM_SQL_OPERATOR_KEYS/);
  });
});
