import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/** `aispm migrate` as a user runs it: a real process, with no ClickHouse server anywhere. */
const repo = join(import.meta.dirname, '../../../..');
const dir = mkdtempSync(join(tmpdir(), 'aispm-migrate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function aispm(args: string[], env: Record<string, string> = {}): Promise<Run> {
  // Without the caller's AISPM_* settings: the defaults are what is checked.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AISPM_')));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repo, 'services/cli/src/main.ts'), 'migrate', ...args], {
      cwd: repo,
      env: { ...base, AISPM_DATA_DIR: dir, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('aispm migrate', () => {
  it('--help documents --cluster, --print and the sharding key', async () => {
    const run = await aispm(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('--cluster <name>');
    expect(run.stdout).toContain('--print');
    expect(run.stdout).toContain('cityHash64(tenant)');
  });

  it('--cluster NAME --print writes the cluster layout without a server', async () => {
    const run = await aispm(['--cluster', 'prod', '--print'], {
      AISPM_CLICKHOUSE_DATABASE: 'ai',
      AISPM_RETENTION_DAYS_ROLLUPS: '30',
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('CREATE TABLE IF NOT EXISTS events_local ON CLUSTER prod');
    expect(run.stdout).toContain('ENGINE = Distributed(prod, ai, events_local, cityHash64(tenant));');
    expect(run.stdout).toContain('TO events_per_minute_local AS');
    expect(run.stdout).toContain('TTL toDate(minute) + INTERVAL 30 DAY');
    expect(run.stdout).not.toContain('{{');
  });

  it('--cluster on the embedded store says what to set instead', async () => {
    const run = await aispm(['--cluster', 'prod']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('AISPM_MODE=distributed');
    expect(run.stderr).toContain('--print');
  });
});
