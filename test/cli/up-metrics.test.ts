import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChdbStore } from '@aispm/store';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * `aispm up` without the gateway (no AISPM_GATEWAY_KEYS) still serves the processor's
 * Prometheus metrics on AISPM_METRICS_HOST:AISPM_METRICS_PORT, and at its stop the
 * processor's last stats interval is in pipeline_stats.
 */
const repo = join(import.meta.dirname, '../..');
const dataDir = mkdtempSync(join(tmpdir(), 'aispm-up-metrics-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('aispm up (embedded, gateway off): /metrics and pipeline_stats', () => {
  it('serves the processor stages’ metrics and writes their stats', async () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AISPM_')));
    const child = spawn(process.execPath, [join(repo, 'services/cli/src/main.ts'), 'up'], {
      cwd: repo,
      env: { ...env, AISPM_DATA_DIR: dataDir, AISPM_METRICS_PORT: '0', AISPM_LOG_LEVEL: 'info' },
    });
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const match = /"metrics":"(http:\/\/[^"]+\/metrics)"/.exec(stderr);
        if (match?.[1]) resolve(match[1]);
      });
      child.on('exit', (code) => reject(new Error(`aispm up exited with ${code}: ${stderr}`)));
    });
    const health = await fetch(url.replace(/\/metrics$/, '/healthz'));
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const response = await fetch(url);
    expect(response.status).toBe(200);
    const families = new Map(parsePrometheusTextFormat(await response.text()).map((f) => [f.name, f]));
    const lag = families.get('aispm_pipeline_lag_records');
    expect(lag?.type).toBe('GAUGE');
    expect(lag?.metrics.map((m) => m.labels?.stage).sort()).toEqual([
      'agents',
      'entities',
      'genai-logs',
      'genai-metrics',
      'traces',
    ]);
    expect(families.get('aispm_traces_events_total')?.type).toBe('COUNTER');
    expect(families.has('aispm_pipeline_records_in_total')).toBe(true);

    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const store = await ChdbStore.open({ path: join(dataDir, 'chdb'), database: 'aispm' });
    try {
      const rows = await store.query<{ stage: string }>(
        'SELECT DISTINCT stage FROM pipeline_stats WHERE partition = -1 ORDER BY stage',
      );
      expect(rows.map((r) => r.stage)).toEqual(['agents', 'entities', 'genai-logs', 'genai-metrics', 'traces']);
    } finally {
      await store.close();
    }
  }, 90_000);
});
