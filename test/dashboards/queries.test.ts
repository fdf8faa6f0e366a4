import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_POLICY, runDemo, type DemoResult } from '@aispm/cli';
import { loadConfig, sampleEvent, silentLogger, type AiEvent } from '@aispm/core';
import { driftRow, loadPolicy, PostureJob, Scorer } from '@aispm/processor';
import { ChdbStore } from '@aispm/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ALERT_RULES,
  PIPELINE_LAG_RECORDS,
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
/** The dashboards' "now": set once the demo is done, so its last stats rows are in the range. */
let now = Date.now();
const HOUR = 3_600_000;
let demo: DemoResult;

/**
 * One busy agent of the demo tenant, an event every ~3 s from 6 hours ago to 1 hour
 * ago, then half an hour of ten times the output tokens: the demo's agents make too
 * few events per 15-minute window (200 at least) for drift to be judged.
 */
function driftTraffic(): AiEvent[] {
  let seed = 7;
  const random = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const events: AiEvent[] = [];
  const end = now - HOUR;
  for (let t = now - 6 * HOUR, i = 0; t < end + HOUR / 2; t += 3000, i++) {
    const shifted = t >= end;
    events.push(
      sampleEvent({
        tenant: 'demo',
        app: 'support-copilot',
        agent: 'drift-bot',
        event_id: `drift-${i}`,
        span_id: i.toString(16).padStart(16, '0'),
        time: t * 1000,
        kind: 'llm_call',
        operation: 'chat',
        tool_name: null,
        tool_risk: null,
        destination: 'api.openai.com',
        input_tokens: Math.round(800 * (0.7 + 0.6 * random())),
        output_tokens: Math.round((shifted ? 1500 : 150) * (0.6 + 0.8 * random())),
        latency_ms: 300 + 400 * random(),
      }),
    );
  }
  return events;
}

beforeAll(async () => {
  const config = loadConfig({}, { dataDir });
  // The demo's runtime writes pipeline_stats too (at its stop, the last interval).
  demo = await runDemo({ durationS: 2, rate: 1000, seed: 11, hours: 24, top: 5, config }, silentLogger, true);
  // $__timeFilter's bounds are whole seconds: the second of the demo's last stats rows is over before "now".
  await new Promise((resolve) => setTimeout(resolve, 1100));
  now = Date.now();
  store = await ChdbStore.open({ path: join(dataDir, 'demo', 'chdb'), database: config.clickhouse.database });
  // Drift reports as the processor's scorer makes them, written with its row function.
  const scorer = new Scorer({ now: () => now });
  const reports = driftTraffic().flatMap((event) => {
    scorer.score(event);
    return scorer.takeDriftReports();
  });
  expect(reports.some((r) => !r.learning && r.psi >= 0.25)).toBe(true);
  await store.insert('drift_reports', reports.map(driftRow));
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

  it('the stats rows count what the demo processed: every event through trace assembly, twins merged, no dead letter', async () => {
    const rows = await store.query<Record<string, string>>(
      `SELECT stage, toString(sum(records_in)) AS records_in, toString(sum(records_out)) AS records_out,
         toString(sum(merged)) AS merged, toString(sum(own) + sum(inherited) + sum(unattributed)) AS attributed,
         toString(sum(dead_letters)) AS dead_letters
       FROM pipeline_stats GROUP BY stage`,
    );
    const by: Partial<Record<string, Record<string, string>>> = Object.fromEntries(
      rows.map((r): [string, Record<string, string>] => [r.stage ?? '', r]),
    );
    expect(Number(by.traces?.merged)).toBe(demo.expected.twins);
    // The demo counts a call reported twice as one event.
    expect(Number(by.traces?.records_out)).toBe(demo.published);
    expect(by.traces?.attributed).toBe(by.traces?.records_out);
    expect(by.agents?.records_in).toBe(by.traces?.records_out);
    expect(by.agents?.records_out).toBe(by.agents?.records_in);
    expect(rows.map((r) => r.dead_letters)).toEqual(rows.map(() => '0'));
  });

  it('the pipeline-lag rule reads each stage’s latest lag: none after the demo, one over the threshold when a stage falls behind', async () => {
    const rule = ALERT_RULES.find((r) => r.uid === 'aispm-pipeline-lag');
    const sql = expandQuery(rule?.query.rawSql ?? '', { ...allSelected(), from: new Date(now - HOUR), variables: [] });
    const before = await store.query<{ stage: string; lag_records: number }>(sql);
    expect(before.map((r) => r.stage).sort()).toEqual(['agents', 'entities', 'genai-logs', 'genai-metrics', 'traces']);
    expect(before.every((r) => r.lag_records === 0)).toBe(true);
    // A later stats row of another instance, behind: the rule's value for its stage is that lag.
    await store.insert('pipeline_stats', [
      {
        time: new Date(now - 1000).toISOString().replace('T', ' ').replace('Z', ''),
        interval_s: 15,
        instance: 'other:1',
        stage: 'agents',
        topic: 'aispm.attributed.v1',
        partition: -1,
        lag: PIPELINE_LAG_RECORDS + 1,
      },
    ]);
    const after = await store.query<{ stage: string; lag_records: number }>(sql);
    expect(after.find((r) => r.stage === 'agents')?.lag_records).toBe(PIPELINE_LAG_RECORDS + 1);
    expect(after.find((r) => r.stage === 'traces')?.lag_records).toBe(0);
  });

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

/**
 * Migration 017's rollups hold what the panels read from them: each rollup, merged,
 * equals the same figures counted on its source table (FINAL: each row once), and the
 * panels built on them show what the raw-table queries they replaced showed.
 */
describe('the panel rollups (migration 017) on the demo’s data', () => {
  const PAIRS: [string, string, string][] = [
    [
      'model_calls_by_minute',
      `SELECT tenant, minute, app, agent, kind, provider, request_model, response_model, countMerge(calls) AS n,
         sumMerge(errors) AS errors, sumMerge(input_tokens) AS tin, sumMerge(output_tokens) AS tout,
         toString(minMerge(first_call)) AS first_call, toString(maxMerge(last_call)) AS last_call
       FROM model_calls_by_minute GROUP BY ALL ORDER BY ALL`,
      `SELECT tenant, toDateTime(toStartOfMinute(time), 'UTC') AS minute, app, agent, kind, provider, request_model,
         response_model, count() AS n, sum(toUInt64(status = 'error')) AS errors,
         sum(toUInt64(ifNull(input_tokens, 0))) AS tin, sum(toUInt64(ifNull(output_tokens, 0))) AS tout,
         toString(min(time)) AS first_call, toString(max(time)) AS last_call
       FROM events FINAL WHERE kind IN ('llm_call', 'embedding') GROUP BY ALL ORDER BY ALL`,
    ],
    [
      'identity_use_by_minute',
      `SELECT tenant, minute, app, agent, identity, countMerge(events) AS n, sumMerge(tool_calls) AS tool_calls,
         sumMerge(risky_tool_calls) AS risky, arraySort(groupUniqArrayArrayMerge(100)(scopes)) AS scopes,
         toString(maxMerge(last_seen)) AS last_seen
       FROM identity_use_by_minute GROUP BY ALL ORDER BY ALL`,
      `SELECT tenant, toDateTime(toStartOfMinute(time), 'UTC') AS minute, app, agent, identity, count() AS n,
         sum(toUInt64(kind = 'tool_call')) AS tool_calls,
         sum(toUInt64(tool_risk IN ('write', 'execute', 'egress', 'privileged'))) AS risky,
         arraySort(groupUniqArrayArray(100)(scopes)) AS scopes, toString(max(time)) AS last_seen
       FROM events FINAL WHERE identity != '' GROUP BY ALL ORDER BY ALL`,
    ],
    [
      'scored_anomalies_by_minute',
      `SELECT tenant, minute, app, agent, countMerge(scores) AS n, sumMerge(flagged) AS flagged,
         maxMerge(max_score) AS max_score
       FROM scored_anomalies_by_minute GROUP BY ALL ORDER BY ALL`,
      `SELECT tenant, toDateTime(toStartOfMinute(time), 'UTC') AS minute, app, agent, count() AS n,
         sum(toUInt64(score >= 0.8)) AS flagged, max(score) AS max_score
       FROM anomaly_scores FINAL WHERE NOT learning GROUP BY ALL ORDER BY ALL`,
    ],
    [
      'flagged_anomalies',
      `SELECT tenant, event_id, toString(time) AS time, entity_type, entity, app, agent, score, reasons, count() AS n
       FROM flagged_anomalies GROUP BY ALL ORDER BY ALL`,
      `SELECT tenant, event_id, toString(time) AS time, entity_type, entity, app, agent, score, reasons, count() AS n
       FROM anomaly_scores FINAL WHERE score >= 0.8 AND NOT learning GROUP BY ALL ORDER BY ALL`,
    ],
  ];

  it.each(PAIRS)('%s equals its source counted once', async (_table, rollup, source) => {
    const rolled = await store.query(rollup);
    expect(rolled.length).toBeGreaterThan(0);
    expect(rolled).toEqual(await store.query(source));
  });

  it('the rollups keep the configured retention and the deduplication window', async () => {
    const rows = await store.query<{ name: string; q: string }>(
      `SELECT name, create_table_query AS q FROM system.tables WHERE database = currentDatabase()
       AND name IN ('model_calls_by_minute', 'identity_use_by_minute', 'scored_anomalies_by_minute', 'flagged_anomalies')
       ORDER BY name`,
    );
    expect(rows).toHaveLength(4);
    for (const { q } of rows) {
      expect(q).toMatch(/TTL .*toIntervalDay\(400\)/);
      expect(q).toContain('non_replicated_deduplication_window = 10000');
    }
  });

  /** The panels' time range, as the plugin writes it. */
  const inRange = (): string => expandQuery('$__timeFilter(time)', allSelected());
  /** The same range on whole minutes, as a per-minute rollup answers it. */
  const inMinutes = (): string => expandQuery('$__timeFilter(toStartOfMinute(time))', allSelected());
  const panel = (name: string): PanelQuery => {
    const q = panels.find(([n]) => n === name)?.[1];
    if (!q) throw new Error(`no panel ${name}`);
    return q;
  };

  it('Top anomalies lists the highest flagged scores, each with its event found', async () => {
    const rows = await check(panel('aispm-agents › Top anomalies'), allSelected());
    const raw = await store.query<{ score: number }>(
      `SELECT round(score, 3) AS score FROM anomaly_scores
       WHERE NOT learning AND score >= 0.8 AND ${inRange()} ORDER BY score DESC LIMIT 50`,
    );
    expect(rows.map((r) => (r as { score: number }).score)).toEqual(raw.map((r) => r.score));
    expect(rows.every((r) => (r as { trace_id: string }).trace_id !== '')).toBe(true);
  });

  it('Identities in use and Model version changes show what the raw events show', async () => {
    const identities = (await check(panel('aispm-identities › Identities in use'), allSelected())) as Record<
      string,
      unknown
    >[];
    const rawIdentities = await store.query<Record<string, unknown>>(
      `SELECT tenant, identity, count() AS events, countIf(kind = 'tool_call') AS tool_calls,
         countIf(tool_risk IN ('write', 'execute', 'egress', 'privileged')) AS risky_tool_calls,
         arrayStringConcat(arraySort(groupUniqArrayArray(scopes)), ', ') AS scopes
       FROM events WHERE identity != '' AND ${inMinutes()} GROUP BY tenant, identity ORDER BY risky_tool_calls DESC, events DESC, identity LIMIT 200`,
    );
    const pick = (r: Record<string, unknown>) => [
      r.tenant,
      r.identity,
      Number(r.events),
      Number(r.tool_calls),
      Number(r.risky_tool_calls),
      r.scopes,
    ];
    const byIdentity = (a: unknown[], b: unknown[]) => String(a[1]).localeCompare(String(b[1]));
    expect(identities.map(pick).sort(byIdentity)).toEqual(rawIdentities.map(pick).sort(byIdentity));

    const changes = await check(panel('aispm-drift › Model version changes'), allSelected());
    const rawChanges = await store.query(
      `SELECT app, agent, request_model AS requested, response_model AS responded, count() AS calls
       FROM events
       WHERE kind = 'llm_call' AND response_model != '' AND ${inMinutes()} AND (tenant, app, agent, request_model) IN (
         SELECT tenant, app, agent, request_model FROM events WHERE kind = 'llm_call' AND response_model != '' AND ${inMinutes()}
         GROUP BY ALL HAVING uniqExact(response_model) > 1)
       GROUP BY ALL ORDER BY ALL`,
    );
    const calls = (rows: unknown[]) =>
      (rows as Record<string, unknown>[])
        .map((r) => [r.app, r.agent, r.requested, r.responded, Number(r.calls)])
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    expect(calls(changes)).toEqual(calls(rawChanges));
  });
});
