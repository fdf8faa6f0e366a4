import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_POLICY, runDemo } from '@aispm/cli';
import { loadConfig, silentLogger } from '@aispm/core';
import { loadPolicy, PostureJob } from '@aispm/processor';
import { parseReadKeys, startSqlEndpoint } from '@aispm/sqlhttp';
import { ChdbStore } from '@aispm/store';
import { buildDashboards, expandQuery, type MacroContext } from '../dashboards/index.ts';
import { machineBusy, median, percentile, type Benchmark } from './harness.ts';

/**
 * Every panel query of the dashboards (aispm dashboards build), expanded as the
 * ClickHouse plugin expands it with All selected over the last 24 hours, on the
 * demo's data in the embedded store: AISPM_BENCH_DASHBOARD_EVENTS events (default
 * 300,000) pushed through the real pipeline by `aispm demo`.
 *
 * panel_query_p95_ms: the 95th percentile of every panel query's time, run
 * directly on the store (ROUNDS rounds after one warm-up).
 * endpoint_overhead_pct: the same queries through the SQL endpoint (HTTP, the
 * tenant's read key, FORMAT JSON as Grafana's plugin reads it) against the direct
 * run, from the medians of the summed round times.
 */
const ROUNDS = 5;
const KEY = 'bench-read-key-0123456789abcdef';

const bench: Benchmark = {
  description: 'dashboard panel queries on the demo data: direct on chdb and through the SQL endpoint',
  async run(progress) {
    const events = Number(process.env.AISPM_BENCH_DASHBOARD_EVENTS ?? 300_000);
    const dataDir = mkdtempSync(join(tmpdir(), 'aispm-bench-dashboards-'));
    try {
      const config = loadConfig({}, { dataDir });
      progress(`demo: ${events.toLocaleString('en-US')} events through the pipeline`);
      const rate = 20_000;
      await runDemo({ durationS: events / rate, rate, seed: 5, hours: 24, top: 5, config }, silentLogger, true);
      const store = await ChdbStore.open({ path: join(dataDir, 'demo', 'chdb'), database: config.clickhouse.database });
      const endpoint = await startSqlEndpoint({ store, keys: parseReadKeys(`demo:${KEY}`), port: 0 });
      try {
        const now = Date.now();
        const policy = loadPolicy(DEMO_POLICY);
        for (const at of [now - 2 * 3_600_000, now - 3_600_000])
          await new PostureJob({ store, policy, now: () => at }).runOnce();
        const all = (name: string) => ({ name, current: ['$__all'], options: [] });
        const ctx: MacroContext = {
          from: new Date(now - 24 * 3_600_000),
          to: new Date(now),
          intervalMs: 300_000,
          variables: [all('tenant'), all('app'), all('agent'), { name: 'trace', current: '', options: [] }],
        };
        const queries = buildDashboards().flatMap((d) =>
          d.queries.map((q) => ({ name: `${d.uid} › ${q.panel}`, sql: expandQuery(q.rawSql, ctx) })),
        );
        progress(`${queries.length} panel queries`);
        const viaEndpoint = async (sql: string): Promise<void> => {
          const res = await fetch(`${endpoint.url}/?default_format=JSON`, {
            method: 'POST',
            body: sql,
            headers: { 'x-clickhouse-user': 'demo', 'x-clickhouse-key': KEY },
          });
          if (!res.ok) throw new Error(`endpoint answered ${res.status}: ${await res.text()}`);
          await res.arrayBuffer();
        };
        const times: number[] = [];
        const slowest = new Map<string, number>();
        const directRounds: number[] = [];
        const endpointRounds: number[] = [];
        for (let round = 0; round <= ROUNDS; round++) {
          let direct = 0;
          let viaHttp = 0;
          for (const q of queries) {
            const t0 = performance.now();
            await store.query(q.sql);
            const t1 = performance.now();
            await viaEndpoint(q.sql);
            const t2 = performance.now();
            direct += t1 - t0;
            viaHttp += t2 - t1;
            if (round > 0) {
              times.push(t1 - t0);
              slowest.set(q.name, Math.max(slowest.get(q.name) ?? 0, t1 - t0));
            }
          }
          if (round > 0) {
            directRounds.push(direct);
            endpointRounds.push(viaHttp);
          }
          progress(
            `round ${round}${round === 0 ? ' (warm-up)' : ''}: direct ${direct.toFixed(0)} ms, endpoint ${viaHttp.toFixed(0)} ms`,
          );
        }
        times.sort((a, b) => a - b);
        const overhead = (median(endpointRounds) / median(directRounds) - 1) * 100;
        const top = [...slowest].sort((a, b) => b[1] - a[1]).slice(0, 5);
        const stored = await store.query<{ n: string }>('SELECT count() AS n FROM events');
        return {
          metrics: {
            panel_query_p95_ms: { value: Number(percentile(times, 0.95).toFixed(1)), unit: 'ms' },
            endpoint_overhead_pct: { value: Number(overhead.toFixed(1)), unit: '%' },
          },
          params: {
            events_stored: Number(stored[0]?.n ?? 0),
            panel_queries: queries.length,
            rounds: ROUNDS,
            panel_query_p50_ms: Number(percentile(times, 0.5).toFixed(1)),
            slowest_panels_ms: Object.fromEntries(top.map(([name, ms]) => [name, Number(ms.toFixed(1))])),
          },
          noisy: machineBusy(),
        };
      } finally {
        await endpoint.close();
        await store.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
};

export default bench;
