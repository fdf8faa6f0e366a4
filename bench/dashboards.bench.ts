import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_POLICY, runDemo } from '@aispm/cli';
import { loadConfig, silentLogger } from '@aispm/core';
import { loadPolicy, PostureJob } from '@aispm/processor';
import { parseReadKeys, startSqlEndpoint, type RunningSqlEndpoint } from '@aispm/sqlhttp';
import { ChdbStore } from '@aispm/store';
import { buildDashboards, expandQuery, type MacroContext } from '../dashboards/index.ts';
import { machineBusy, median, percentile, type Benchmark } from './harness.ts';

/**
 * Every panel query of the dashboards (aispm dashboards build), expanded as the
 * ClickHouse plugin expands it with All selected over the last 24 hours, on the
 * demo's data in the embedded store.
 *
 * Data: AISPM_BENCH_DASHBOARD_PIPELINE_EVENTS events (default 300,000) pushed
 * through the real pipeline by `aispm demo`; when AISPM_BENCH_DASHBOARD_EVENTS
 * (default 300,000) asks for more, the engine copies the demo's events and anomaly
 * scores (INSERT … SELECT, new ids, times moved back by up to half an hour a copy)
 * until there are about that many, through the rollups' materialized views as any insert.
 *
 * panel_query_p95_ms: the 95th percentile of every panel query's time, run
 * directly on the store (ROUNDS rounds after one warm-up).
 * endpoint_overhead_pct: the same queries through the SQL endpoint (HTTP, the
 * tenant's read key, FORMAT JSON as Grafana's plugin reads it) against the direct
 * run, from the medians of the summed round times. Each round moves the time range
 * by a second, so each text is new to the endpoint, as a dashboard refresh is; the
 * same text asked again (repeat) and an endpoint that caches nothing (uncached:
 * the schema read, parsed and checked for every query) are measured beside it.
 */
const ROUNDS = 5;
const KEY = 'bench-read-key-0123456789abcdef';

const bench: Benchmark = {
  description: 'dashboard panel queries on the demo data: direct on chdb and through the SQL endpoint',
  async run(progress) {
    const events = Number(process.env.AISPM_BENCH_DASHBOARD_EVENTS ?? 300_000);
    const piped = Math.min(events, Number(process.env.AISPM_BENCH_DASHBOARD_PIPELINE_EVENTS ?? 300_000));
    const dataDir = mkdtempSync(join(tmpdir(), 'aispm-bench-dashboards-'));
    try {
      const config = loadConfig({}, { dataDir });
      progress(`demo: ${piped.toLocaleString('en-US')} events through the pipeline`);
      const rate = 20_000;
      const demoStarted = performance.now();
      await runDemo({ durationS: piped / rate, rate, seed: 5, hours: 24, top: 5, config }, silentLogger, true);
      const demoS = (performance.now() - demoStarted) / 1000;
      const store = await ChdbStore.open({ path: join(dataDir, 'demo', 'chdb'), database: config.clickhouse.database });
      const loadStarted = performance.now();
      await amplify(store, events, progress);
      const loadS = (performance.now() - loadStarted) / 1000;
      const keys = parseReadKeys(`demo:${KEY}`);
      const endpoint = await startSqlEndpoint({ store, keys, port: 0 });
      const uncached = await startSqlEndpoint({ store, keys, port: 0, guardCacheEntries: 0, schemaCacheMs: 0 });
      try {
        const now = Date.now();
        const policy = loadPolicy(DEMO_POLICY);
        for (const at of [now - 2 * 3_600_000, now - 3_600_000])
          await new PostureJob({ store, policy, now: () => at }).runOnce();
        const all = (name: string) => ({ name, current: ['$__all'], options: [] });
        const context = (round: number): MacroContext => ({
          from: new Date(now - 24 * 3_600_000 + round * 1000),
          to: new Date(now + round * 1000),
          intervalMs: 300_000,
          variables: [all('tenant'), all('app'), all('agent'), { name: 'trace', current: '', options: [] }],
        });
        const built = buildDashboards().flatMap((d) => d.queries.map((q) => ({ name: `${d.uid} › ${q.panel}`, q })));
        // A panel whose query the engine refuses is reported, not timed (the dashboards tests say why).
        const failed: string[] = [];
        const panels: typeof built = [];
        for (const panel of built) {
          try {
            await store.query(expandQuery(panel.q.rawSql, context(0)));
            panels.push(panel);
          } catch (err) {
            failed.push(`${panel.name}: ${String((err as Error).message).slice(0, 160)}`);
          }
        }
        progress(
          `${panels.length} panel queries${failed.length > 0 ? ` (${failed.length} refused by the engine)` : ''}`,
        );
        const via = async (served: RunningSqlEndpoint, sql: string): Promise<void> => {
          const res = await fetch(`${served.url}/?default_format=JSON`, {
            method: 'POST',
            body: sql,
            headers: { 'x-clickhouse-user': 'demo', 'x-clickhouse-key': KEY },
          });
          if (!res.ok) throw new Error(`endpoint answered ${res.status}: ${await res.text()}`);
          await res.arrayBuffer();
        };
        const times: number[] = [];
        const slowest = new Map<string, number>();
        const rounds = {
          direct: [] as number[],
          fresh: [] as number[],
          repeat: [] as number[],
          uncached: [] as number[],
        };
        for (let round = 0; round <= ROUNDS; round++) {
          const sums = { direct: 0, fresh: 0, repeat: 0, uncached: 0 };
          const ctx = context(round);
          for (const { name, q } of panels) {
            const sql = expandQuery(q.rawSql, ctx);
            const t0 = performance.now();
            await store.query(sql);
            const t1 = performance.now();
            await via(endpoint, sql);
            const t2 = performance.now();
            await via(endpoint, sql);
            const t3 = performance.now();
            await via(uncached, sql);
            const t4 = performance.now();
            sums.direct += t1 - t0;
            sums.fresh += t2 - t1;
            sums.repeat += t3 - t2;
            sums.uncached += t4 - t3;
            if (round > 0) {
              times.push(t1 - t0);
              slowest.set(name, Math.max(slowest.get(name) ?? 0, t1 - t0));
            }
          }
          if (round > 0) for (const k of Object.keys(sums) as (keyof typeof sums)[]) rounds[k].push(sums[k]);
          progress(
            `round ${round}${round === 0 ? ' (warm-up)' : ''}: direct ${sums.direct.toFixed(0)} ms, endpoint ${sums.fresh.toFixed(0)} ms (repeat ${sums.repeat.toFixed(0)}, uncached ${sums.uncached.toFixed(0)})`,
          );
        }
        times.sort((a, b) => a - b);
        const overhead = (k: keyof typeof rounds): number =>
          Number(((median(rounds[k]) / median(rounds.direct) - 1) * 100).toFixed(1));
        const top = [...slowest].sort((a, b) => b[1] - a[1]).slice(0, 5);
        const stored = await store.query<{ n: string }>('SELECT count() AS n FROM events');
        return {
          metrics: {
            panel_query_p95_ms: { value: Number(percentile(times, 0.95).toFixed(1)), unit: 'ms' },
            endpoint_overhead_pct: { value: overhead('fresh'), unit: '%' },
          },
          params: {
            events_stored: Number(stored[0]?.n ?? 0),
            events_through_pipeline: piped,
            demo_s: Number(demoS.toFixed(1)),
            load_s: Number(loadS.toFixed(1)),
            panel_queries: panels.length,
            panel_queries_refused: failed.length,
            rounds: ROUNDS,
            panel_query_p50_ms: Number(percentile(times, 0.5).toFixed(1)),
            round_ms_median: Object.fromEntries(
              Object.entries(rounds).map(([k, v]) => [k, Number(median(v).toFixed(1))]),
            ),
            endpoint_overhead_repeat_pct: overhead('repeat'),
            endpoint_overhead_uncached_pct: overhead('uncached'),
            slowest_panels_ms: Object.fromEntries(top.map(([name, ms]) => [name, Number(ms.toFixed(1))])),
          },
          noisy: machineBusy(),
          ...(failed.length > 0 ? { notes: failed.map((f) => `panel query refused, not timed: ${f}`) } : {}),
        };
      } finally {
        await uncached.close();
        await endpoint.close();
        await store.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
};

/**
 * Copies the events and anomaly scores in the engine until about `target` events
 * are stored: each copy doubles what is there (the last takes a share, by a hash of
 * the id), with the ids `<id>~n` and times up to half an hour earlier, so the copies
 * spread over the same day as the demo's traffic and each pass reads the table once.
 */
async function amplify(store: ChdbStore, target: number, progress: (line: string) => void): Promise<void> {
  const count = async (): Promise<number> =>
    Number((await store.query<{ n: string }>('SELECT count() AS n FROM events'))[0]?.n ?? 0);
  let stored = await count();
  if (stored === 0) return;
  for (let copy = 1; stored < target; copy++) {
    const started = performance.now();
    const share = Math.min(1000, Math.ceil((1000 * (target - stored)) / stored));
    // Picked in a subquery (outside it, event_id names the copy's new id), the same ids in both tables.
    const picked = share < 1000 ? `WHERE cityHash64(event_id) % 1000 < ${share}` : '';
    const shift = `toIntervalSecond((cityHash64(event_id) + ${copy}) % 1800)`;
    const id = (column: string): string => `concat(${column}, '~${copy}') AS ${column}`;
    await store.command(
      `INSERT INTO events SELECT * REPLACE (${id('event_id')}, ${id('trace_id')}, time - ${shift} AS time)
       FROM (SELECT * FROM events ${picked}) SETTINGS insert_deduplicate = 0`,
    );
    await store.command(
      `INSERT INTO anomaly_scores SELECT * REPLACE (${id('event_id')}, time - ${shift} AS time)
       FROM (SELECT * FROM anomaly_scores ${picked}) SETTINGS insert_deduplicate = 0`,
    );
    const before = stored;
    stored = await count();
    if (stored <= before) throw new Error(`copy ${copy} of the events added none; stopping the load`);
    const s = (performance.now() - started) / 1000;
    progress(
      `load: ${stored.toLocaleString('en-US')} / ${target.toLocaleString('en-US')} events (copy ${copy}, ${((stored - before) / s).toFixed(0)} events/s)`,
    );
  }
}

export default bench;
