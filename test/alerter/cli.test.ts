import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PagerDutyReceiver } from '@aispm/alerter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../support/until.ts';

/**
 * `aispm alerter` and `aispm alerts` as an operator runs them: real processes, a
 * PagerDuty-format receiver on loopback, and the silences API of a running alerter.
 */
const repo = join(import.meta.dirname, '../..');
const cli = join(repo, 'services/cli/src/main.ts');
const dir = mkdtempSync(join(tmpdir(), 'aispm-alerts-cli-'));
const ROUTING_KEY = 'cliR0UT1NGK3Y0123456789abcdefABC';
const KEY = 'acme-cli-key-0123456789abcdef';
let receiver: PagerDutyReceiver;
let env: NodeJS.ProcessEnv;

const run = async (args: string[], extra: NodeJS.ProcessEnv = {}) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, ...args], {
      cwd: repo,
      env: { ...env, ...extra },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

beforeAll(async () => {
  receiver = await PagerDutyReceiver.start({ routingKey: ROUTING_KEY });
  writeFileSync(
    join(dir, 'routes.json'),
    JSON.stringify({
      version: 1,
      destinations: [{ name: 'pd', kind: 'pagerduty', url: receiver.url, routing_key_env: 'CLI_PD_KEY' }],
      route: { destinations: ['pd'], routes: [{ name: 'page', match: ['severity>=high'], destinations: ['pd'] }] },
    }),
  );
  env = {
    ...process.env,
    AISPM_DATA_DIR: dir,
    AISPM_ALERT_ROUTES_FILE: join(dir, 'routes.json'),
    AISPM_ALERT_API_KEYS: `acme:${KEY}`,
    AISPM_ALERT_API_PORT: '0',
    CLI_PD_KEY: ROUTING_KEY,
  };
});

afterAll(async () => {
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('aispm alerter and aispm alerts', () => {
  it.each(['alerter', 'alerts'])('prints help for %s', async (command) => {
    const r = await run([command, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: aispm ${command}`);
  });

  it('sends a sample finding through a route and shows what the destination answered', async () => {
    const r = await run(['alerts', 'test', 'page', '--tenant', 'acme']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^pd \(pagerduty\): ok 202/m);
    const event = receiver.events.at(-1) as { event_action: string; payload: { severity: string; summary: string } };
    expect(event.event_action).toBe('trigger');
    expect(event.payload.severity).toBe('critical');
    const unknown = await run(['alerts', 'test', 'nowhere']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('has no route named "nowhere"; routes: root, page');
  });

  it('adds, lists and expires a silence through the API of a running alerter', { timeout: 120_000 }, async () => {
    let out = '';
    const child = spawn(process.execPath, [cli, 'alerter'], { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await until(() => /API at (http:\/\/\S+)/.test(out), 'the alerter API', { context: () => out });
      const url = /API at (http:\/\/\S+)/.exec(out)![1]!;
      const key = { AISPM_ALERT_API_KEY: KEY };
      const added = await run(
        [
          'alerts',
          'silence',
          'add',
          '--url',
          url,
          '--matcher',
          'asset=~agent-.*',
          '--duration',
          '1h',
          '--comment',
          'deploy',
        ],
        key,
      );
      expect(added.code, added.stderr).toBe(0);
      const id = added.stdout.trim();
      const listed = await run(['alerts', 'silence', 'list', '--url', url], key);
      expect(listed.stdout).toContain(`${id}  until`);
      expect(listed.stdout).toContain('asset=~agent-.*');
      const denied = await run(['alerts', 'silence', 'list', '--url', url], {
        AISPM_ALERT_API_KEY: 'wrong-key-0123456789abc',
      });
      expect(denied.code).toBe(1);
      expect(denied.stderr).toContain('401');
      const bad = await run(
        ['alerts', 'silence', 'add', '--url', url, '--matcher', 'colour=red', '--duration', '1h'],
        key,
      );
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain('unknown label "colour"');
      expect((await run(['alerts', 'silence', 'expire', id, '--url', url], key)).stdout).toContain(`expired ${id}`);
      expect((await run(['alerts', 'silence', 'list', '--url', url], key)).stdout).toContain('no silences');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
