import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChdbStore, EVENTS_TABLE, eventRow, migrate } from '@aispm/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findingRow } from '../findings/rows.ts';
import { POLICY, event, openFinding } from '../inventory/fixtures.ts';
import { PostureJob, POSTURE_TABLE, computePosture } from './job.ts';

describe('PostureJob (chdb)', () => {
  let folder: string;
  let store: ChdbStore;
  const injection = openFinding({
    asset: 'acme/support/helper',
    asset_type: 'agent',
    type: 'content',
    rule: 'prompt_injection.direct',
  });
  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'aispm-posture-'));
    store = await ChdbStore.open({ path: join(folder, 'chdb'), database: 'aispm' });
    await migrate(store);
    await store.insert(
      EVENTS_TABLE,
      [
        event(),
        event({
          app: 'side-project',
          agent: null,
          provider: 'deepseek',
          request_model: 'gpt-4o',
          response_model: null,
        }),
        event({ tenant: 'beta', app: 'support', agent: null }),
      ].map(eventRow),
    );
    await store.insert('findings', [findingRow(injection)]);
  });
  afterAll(async () => {
    await store.close();
    rmSync(folder, { recursive: true, force: true });
  });

  const latest = async (): Promise<Record<string, { score: number; actions: string[]; points: number[] }>> => {
    const rows = await store.query<{
      tenant: string;
      asset_kind: string;
      asset: string;
      score: number;
      actions: string[];
      action_points: number[];
      n: string;
    }>(
      `SELECT tenant, asset_kind, asset, argMax(score, time) AS score, argMax(actions, time) AS actions,
              argMax(action_points, time) AS action_points, count() AS n
       FROM ${POSTURE_TABLE} GROUP BY tenant, asset_kind, asset ORDER BY tenant, asset_kind, asset`,
    );
    return Object.fromEntries(
      rows.map((r) => [
        `${r.tenant}/${r.asset_kind}:${r.asset}#${r.n}`,
        { score: r.score, actions: r.actions, points: r.action_points },
      ]),
    );
  };

  it('writes each tenant and its assets below 100, then the recovery of an asset, then no more of it', async () => {
    let clock = Date.now() - 60_000;
    const job = new PostureJob({ store, policy: POLICY, now: () => (clock += 1000) });
    expect(await job.runOnce()).toMatchObject({ tenants: 2, failed: 0, rows: 5 });
    const first = await latest();
    expect(Object.keys(first)).toEqual([
      'acme/agent:helper#1',
      'acme/app:side-project#1',
      'acme/provider:deepseek#1',
      'acme/tenant:#1',
      'beta/tenant:#1',
    ]);
    expect(first['beta/tenant:#1']!.score).toBe(100);
    expect(first['acme/tenant:#1']!.score).toBeLessThan(100);
    expect(first['acme/agent:helper#1']!.actions).toHaveLength(1);
    expect(first['acme/agent:helper#1']!.actions[0]).toContain('prompt_injection.direct');
    expect(first['acme/agent:helper#1']!.points[0]).toBeCloseTo(100 - first['acme/agent:helper#1']!.score, 4);
    // The same figures as computing it directly.
    const direct = await computePosture(store, 'acme', POLICY);
    expect(first['acme/tenant:#1']!.score).toBeCloseTo(direct.score, 4);

    await store.insert('findings', [findingRow({ ...injection, status: 'resolved', occurrences: 0 })]);
    expect(await job.runOnce()).toMatchObject({ tenants: 2, rows: 5 });
    const second = await latest();
    expect(second['acme/agent:helper#2']).toMatchObject({ score: 100, actions: [] });

    expect(await job.runOnce()).toMatchObject({ rows: 4 });
    expect(Object.keys(await latest())).toContain('acme/agent:helper#2');
    expect(job.stats()).toMatchObject({ runs: 3, rows: 14, failures: 0 });
  });

  it('runs on an interval once started, never two runs at once, and stop() waits for the run in progress', async () => {
    const job = new PostureJob({ store, intervalMs: 50 });
    job.start();
    const [a, b] = [job.runOnce(), job.runOnce()];
    expect(a).toBe(b);
    await a;
    await new Promise((resolve) => setTimeout(resolve, 300));
    await job.stop();
    const runs = job.stats().runs;
    expect(runs).toBeGreaterThanOrEqual(2);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(job.stats().runs).toBe(runs);
  });
});
