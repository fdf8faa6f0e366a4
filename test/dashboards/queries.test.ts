import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_POLICY, runDemo } from '@aispm/cli';
import { loadConfig, silentLogger } from '@aispm/core';
import { loadPolicy, PostureJob } from '@aispm/processor';
import { ChdbStore } from '@aispm/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ALERT_RULES,
  VARIABLES,
  buildDashboards,
  expandQuery,
  type ColumnKind,
  type MacroContext,
  type PanelQuery,
  type TemplateVariable,
} from '../../dashboards/index.ts';

/**
 * Every panel's query, expanded as Grafana and the ClickHouse plugin expand it,
 * runs on the ClickHouse engine (chdb) over the demo's data and returns rows with
 * the columns and types its panel reads — with All selected and with a
 * multi-value selection — and so do the variables' and alert rules' queries.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'aispm-dashboards-'));
let store: ChdbStore;
/** The trace of the top anomaly: what the drill-down variable is set to. */
let trace = '';
const now = Date.now();
const HOUR = 3_600_000;

beforeAll(async () => {
  const config = loadConfig({}, { dataDir });
  await runDemo({ durationS: 2, rate: 1000, seed: 11, hours: 24, top: 5, config }, silentLogger, true);
  store = await ChdbStore.open({ path: join(dataDir, 'demo', 'chdb'), database: config.clickhouse.database });
  // The demo stops before the posture job's first interval: score twice, an hour apart, for a trend.
  const policy = loadPolicy(DEMO_POLICY);
  for (const at of [now - 2 * HOUR, now - HOUR]) {
    const run = await new PostureJob({ store, policy, now: () => at }).runOnce();
    expect(run.rows).toBeGreaterThan(0);
  }
  const top = await store.query<{ trace_id: string }>(
    `SELECT e.trace_id AS trace_id FROM anomaly_scores AS a INNER JOIN events AS e ON a.event_id = e.event_id
     WHERE NOT a.learning ORDER BY a.score DESC LIMIT 1`,
  );
  trace = top[0]?.trace_id ?? '';
  expect(trace).not.toBe('');
}, 180_000);

afterAll(async () => {
  await store?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const all = (name: string): TemplateVariable => ({ name, current: ['$__all'], options: [] });
const context = (variables: TemplateVariable[], traceId = trace): MacroContext => ({
  from: new Date(now - 24 * HOUR),
  to: new Date(now),
  intervalMs: 300_000,
  variables: [...variables, { name: 'trace', current: traceId, options: [] }],
});
const allSelected = (traceId = trace): MacroContext => context([all('tenant'), all('app'), all('agent')], traceId);

function kindOf(type: string): ColumnKind | 'other' {
  const t = type
    .replace(/^(LowCardinality|Nullable)\((.*)\)$/, '$2')
    .replace(/^(LowCardinality|Nullable)\((.*)\)$/, '$2');
  if (/^(DateTime|Date)/.test(t)) return 'time';
  if (/^(U?Int\d+|Float\d+|Decimal)/.test(t)) return 'number';
  if (/^(String|FixedString|Enum)/.test(t)) return 'string';
  if (/^Array\(/.test(t)) return 'array';
  return 'other';
}

/** Runs a query and checks its columns against what the panel reads; returns its rows. */
async function check(q: Pick<PanelQuery, 'panel' | 'rawSql' | 'columns'>, ctx: MacroContext): Promise<unknown[]> {
  const sql = expandQuery(q.rawSql, ctx);
  expect(sql, q.panel).not.toMatch(/\$__|\$\{|\[\[|\$(tenant|app|agent)\b/);
  const described = await store.query<{ name: string; type: string }>(`DESCRIBE TABLE (${sql})`);
  const columns = Object.fromEntries(described.map((c) => [c.name, kindOf(c.type)]));
  expect(columns, `${q.panel}: ${JSON.stringify(described)}`).toEqual(q.columns);
  return store.query(sql);
}

const panels = buildDashboards().flatMap((d) => d.queries.map((q) => [`${d.uid} › ${q.panel}`, q] as const));

describe('dashboard queries on the engine over the demo’s data', () => {
  it.each(panels)('%s returns rows (All selected)', async (_name, q) => {
    const rows = await check(q, allSelected());
    expect(rows.length, q.panel).toBeGreaterThan(0);
  });

  it('the drill-down lists the trace’s events in order, and nothing while the trace is empty', async () => {
    const q = panels.find(([name]) => name === 'aispm-agents › Trace drill-down')?.[1];
    expect(q?.mayBeEmpty).toBeDefined();
    if (!q) return;
    const rows = await check(q, allSelected());
    expect(rows.every((r) => (r as { trace_id: string }).trace_id === trace)).toBe(true);
    expect(await check(q, allSelected(''))).toEqual([]);
  });

  it('the variables list the demo’s tenant, apps and agents', async () => {
    const values: Record<string, string[]> = {};
    for (const v of VARIABLES) {
      const rows = await store.query<Record<string, string>>(expandQuery(v.sql, allSelected()));
      values[v.name] = rows.map((r) => Object.values(r)[0] ?? '');
    }
    expect(values.tenant).toEqual(['demo']);
    expect(values.app?.length).toBeGreaterThan(1);
    expect(values.agent?.length).toBeGreaterThan(1);
  });

  it.each(panels)('%s runs with a multi-value selection', async (_name, q) => {
    const apps = await store.query<{ name: string }>(
      "SELECT name FROM assets WHERE tenant = 'demo' AND kind = 'app' GROUP BY name ORDER BY name LIMIT 2",
    );
    const ctx = context([
      { name: 'tenant', current: ['demo'], options: ['demo'] },
      { name: 'app', current: apps.map((a) => a.name), options: apps.map((a) => a.name) },
      all('agent'),
    ]);
    const sql = expandQuery(q.rawSql, ctx);
    if (q.rawSql.includes('${app}')) expect(sql).toContain(`app IN ('${apps[0]?.name}','${apps[1]?.name}')`);
    await check(q, ctx);
  });

  it.each(ALERT_RULES.map((r) => [r.uid, r] as const))(
    'alert rule %s: its query runs and returns labels and one number',
    async (_uid, r) => {
      const ctx: MacroContext = {
        from: new Date(now - r.query.from * 1000),
        to: new Date(now),
        intervalMs: 60_000,
        variables: [],
      };
      const sql = expandQuery(r.query.rawSql, ctx);
      const described = await store.query<{ name: string; type: string }>(`DESCRIBE TABLE (${sql})`);
      const kinds = described.map((c) => [c.name, kindOf(c.type)]);
      expect(kinds.filter(([, k]) => k === 'number').map(([n]) => n)).toEqual([r.value]);
      expect(kinds.filter(([, k]) => k !== 'number').every(([, k]) => k === 'string')).toBe(true);
      await store.query(sql);
    },
  );

  it('the posture-drop rule sees the tenant’s score change between the two runs', async () => {
    const rule = ALERT_RULES.find((r) => r.uid === 'aispm-posture-drop');
    const sql = expandQuery(rule?.query.rawSql ?? '', {
      ...allSelected(),
      from: new Date(now - 6 * HOUR),
      variables: [],
    });
    const rows = await store.query<{ tenant: string; drop: number }>(sql);
    expect(rows.map((r) => r.tenant)).toEqual(['demo']);
  });
});
