import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_POLICY, runDemo } from '@aispm/cli';
import { loadConfig, silentLogger } from '@aispm/core';
import { loadPolicy, PostureJob } from '@aispm/processor';
import {
  OPERATOR_TABLES,
  parseOperatorKeys,
  parseReadKeys,
  startSqlEndpoint,
  type RunningSqlEndpoint,
} from '@aispm/sqlhttp';
import { ChdbStore } from '@aispm/store';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboards, expandQuery, type MacroContext, type TemplateVariable } from '../../dashboards/index.ts';

/**
 * Every dashboard panel's query, expanded as the ClickHouse plugin expands it, runs
 * through the SQL endpoint over HTTP with @clickhouse/client (as Grafana's plugin
 * reads it): each tenant's key gets rows, and only its own tenant's. The demo's
 * rows are tenant `demo`; a copy of them is tenant `globex`, so a key that saw the
 * other tenant's rows would see every count doubled. Panels over the pipeline's own
 * tables are read with the operator's key, and give a tenant's key nothing.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'aispm-sqlhttp-dashboards-'));
const keys = { demo: randomBytes(16).toString('hex'), globex: randomBytes(16).toString('hex') };
const operatorKey = randomBytes(16).toString('hex');
/** The dashboards' "now": set once the demo is done, so its last pipeline stats rows are in the range. */
let now = Date.now();
const HOUR = 3_600_000;
let store: ChdbStore;
let endpoint: RunningSqlEndpoint;
let clients: Record<'demo' | 'globex' | 'operator', ClickHouseClient>;
let trace = '';

const all = (name: string): TemplateVariable => ({ name, current: ['$__all'], options: [] });
const context = (): MacroContext => ({
  from: new Date(now - 24 * HOUR),
  to: new Date(now),
  intervalMs: 300_000,
  variables: [all('tenant'), all('app'), all('agent'), { name: 'trace', current: trace, options: [] }],
});

const panels = buildDashboards().flatMap((d) => d.queries.map((q) => ({ name: `${d.uid} › ${q.panel}`, q })));
const readsOperatorTables = (sql: string): boolean =>
  [...OPERATOR_TABLES].some((t) => new RegExp(`\\b${t}\\b`).test(sql));

/** Rows in a comparable form: floats to 9 significant digits (sums in another order differ in the last bits), sorted. */
function normal(rows: Record<string, unknown>[]): string[] {
  // The store's own reads quote 64-bit integers (a JS number would lose them); the endpoint answers as a server does.
  const round = (value: unknown): unknown =>
    typeof value === 'string' && /^-?\d+$/.test(value)
      ? Number(value)
      : typeof value === 'number' && !Number.isInteger(value)
        ? Number(value.toPrecision(9))
        : Array.isArray(value)
          ? value.map(round)
          : value;
  return rows
    .map((row) => JSON.stringify(Object.fromEntries(Object.entries(row).map(([k, v]) => [k, round(v)]))))
    .sort();
}

async function rows(client: ClickHouseClient, sql: string): Promise<Record<string, unknown>[]> {
  return (await client.query({ query: sql, format: 'JSONEachRow' })).json<Record<string, unknown>>();
}

/** What each panel's query returned on the engine itself (no filter) before globex's rows existed. */
const before = new Map<string, string[]>();

beforeAll(async () => {
  const config = loadConfig({}, { dataDir });
  await runDemo({ durationS: 2, rate: 1000, seed: 11, hours: 24, top: 5, config }, silentLogger, true);
  // $__timeFilter's bounds are whole seconds: the second of the demo's last stats rows is over before "now".
  await new Promise((resolve) => setTimeout(resolve, 1100));
  now = Date.now();
  store = await ChdbStore.open({ path: join(dataDir, 'demo', 'chdb'), database: config.clickhouse.database });
  const policy = loadPolicy(DEMO_POLICY);
  for (const at of [now - 2 * HOUR, now - HOUR]) await new PostureJob({ store, policy, now: () => at }).runOnce();
  const top = await store.query<{ trace_id: string }>(
    `SELECT e.trace_id AS trace_id FROM anomaly_scores AS a INNER JOIN events AS e ON a.event_id = e.event_id
     WHERE NOT a.learning ORDER BY a.score DESC LIMIT 1`,
  );
  trace = top[0]?.trace_id ?? '';
  endpoint = await startSqlEndpoint({
    store,
    keys: parseReadKeys(`demo:${keys.demo}\nglobex:${keys.globex}`),
    operatorKeys: parseOperatorKeys(`operator:${operatorKey}`),
    port: 0,
  });
  const client = (username: string, password: string): ClickHouseClient =>
    createClient({
      url: endpoint.url,
      username,
      password,
      database: config.clickhouse.database,
      log: { level: ClickHouseLogLevel.OFF },
    });
  clients = {
    demo: client('demo', keys.demo),
    globex: client('globex', keys.globex),
    operator: client('operator', operatorKey),
  };
  for (const { name, q } of panels) before.set(name, normal(await store.query(expandQuery(q.rawSql, context()))));
  // globex: a copy of demo's rows in every table the pipeline writes (the rollups and the
  // assets views fill themselves from the copies, as from any insert).
  const targets = new Set(
    (
      await store.query<{ q: string }>(
        "SELECT create_table_query AS q FROM system.tables WHERE database = currentDatabase() AND engine = 'MaterializedView'",
      )
    ).map(({ q }) => /\bTO\s+(?:\S+\.)?`?(\w+)`?/.exec(q)?.[1] ?? ''),
  );
  const tables = await store.query<{ table: string }>(
    `SELECT table FROM system.columns WHERE database = currentDatabase() AND name = 'tenant'
       AND table IN (SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree')`,
  );
  for (const { table } of tables.filter((t) => !targets.has(t.table))) {
    await store.command(
      // The subquery picks demo's rows: outside it, tenant names the copy's ('globex', REPLACE).
      `INSERT INTO ${table} SELECT * REPLACE ('globex' AS tenant) FROM (SELECT * FROM ${table} WHERE tenant = 'demo')
       SETTINGS insert_deduplicate = 0`,
    );
  }
}, 240_000);

afterAll(async () => {
  await Promise.all(Object.values(clients ?? {}).map((c) => c.close()));
  await endpoint?.close();
  await store?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('dashboard queries through the SQL endpoint (@clickhouse/client over HTTP)', () => {
  it('the copy happened: the engine holds both tenants, each key sees its own', async () => {
    const count = 'SELECT count() AS n FROM events';
    const [direct] = await store.query<{ n: string }>(count);
    const [demo] = await rows(clients.demo, count);
    const [globex] = await rows(clients.globex, count);
    expect(Number(demo?.n)).toBeGreaterThan(0);
    expect(Number(globex?.n)).toBe(Number(demo?.n));
    expect(Number(direct?.n)).toBe(2 * Number(demo?.n));
  });

  it('most panels have rows on the demo’s data, so the checks below are not empty', () => {
    const filled = panels.filter(({ name }) => before.get(name)!.length > 0);
    expect(filled.length).toBeGreaterThanOrEqual(Math.ceil(panels.length * 0.75));
  });

  it.each(panels.map((p) => [p.name, p] as const))('%s: rows for each tenant, its own only', async (name, { q }) => {
    const sql = expandQuery(q.rawSql, context());
    // The engine's answer over demo's rows alone: what the demo key must get now that globex's exist.
    const expected = before.get(name)!;
    if (readsOperatorTables(sql)) {
      expect(normal(await rows(clients.operator, sql))).toEqual(expected);
      // No tenant reads the pipeline's tables: a count-style panel may still return a row of zeros.
      for (const tenant of ['demo', 'globex'] as const) {
        const got = await rows(clients[tenant], sql);
        expect(normal(got), tenant).not.toEqual(expected);
      }
      return;
    }
    // globex's rows do not reach demo: every count would have doubled.
    expect(normal(await rows(clients.demo, sql)), name).toEqual(expected);
    const globex = normal(await rows(clients.globex, sql));
    if (expected.length > 0) expect(globex.length, name).toBeGreaterThan(0);
    expect(globex.join('\n')).not.toMatch(/"demo"/);
  });

  it("the variables list each key's tenant only", async () => {
    const tenants = 'SELECT DISTINCT tenant FROM assets ORDER BY tenant';
    expect(await rows(clients.demo, tenants)).toEqual([{ tenant: 'demo' }]);
    expect(await rows(clients.globex, tenants)).toEqual([{ tenant: 'globex' }]);
    expect(await rows(clients.operator, tenants)).toEqual([]);
  });
});
