import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SCENARIOS, addTruth, demoTraffic, injectedCount, noTruth, thirdPartyEvents, truthOf } from '@aispm/cli';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * `aispm demo` as a user runs it: a real process, its exit code, what it prints,
 * and a clean stop on Ctrl-C.
 */
const repo = join(import.meta.dirname, '../..');
const dataDir = mkdtempSync(join(tmpdir(), 'aispm-demo-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function aispm(args: string[], interruptAfterMs?: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repo, 'services/cli/src/main.ts'), ...args], {
      cwd: repo,
      env: { ...process.env, AISPM_DATA_DIR: dataDir },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    if (interruptAfterMs !== undefined) {
      // Interrupt once the demo is producing, as a user pressing Ctrl-C would.
      const timer = setTimeout(() => child.kill('SIGINT'), interruptAfterMs);
      child.on('exit', () => clearTimeout(timer));
    }
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The full run, shared by the tests that read its summary. */
let fullRun: Promise<Run> | undefined;
const full = (): Promise<Run> => (fullRun ??= aispm(['demo', '--duration', '6', '--rate', '3000', '--seed', '3']));

const number = (text: string, pattern: RegExp): number => Number(pattern.exec(text)?.[1]?.replaceAll(',', ''));

describe('aispm demo', () => {
  it('runs the fleet through the pipeline and ranks the injected misbehaviour at the top', async () => {
    const run = await full();
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('aispm demo — summary');
    expect(number(run.stdout, /events stored\s+([\d,]+)/)).toBe(18_000 + injectedCount());
    expect(number(run.stdout, /of the top (\d+) single events/)).toBe(10);
    expect(number(run.stdout, /single events, (\d+) are labeled/)).toBeGreaterThanOrEqual(8);
    for (const scenario of ['denial_of_wallet', 'runaway_loop', 'exfiltration', 'shadow_egress', 'prompt_stuffing']) {
      const flagged = number(run.stdout, new RegExp(`${scenario}\\s+(\\d+)/`));
      expect(flagged, `${scenario} flagged`).toBeGreaterThan(0);
    }
    const benign = /benign events flagged: ([\d,]+) of ([\d,]+)/.exec(run.stdout);
    expect(Number(benign?.[1]?.replaceAll(',', '')) / Number(benign?.[2]?.replaceAll(',', ''))).toBeLessThan(0.01);
  });

  it('delivers critical findings to the local PagerDuty, HEC and syslog receivers, resolves after triggers', async () => {
    const run = await full();
    expect(run.code, run.stderr).toBe(0);
    const pd =
      /PagerDuty \(local, Events API v2\)\s+(\d+) triggers, (\d+) resolves → (\d+) incidents \((\d+) open\)/.exec(
        run.stdout,
      );
    expect(pd, run.stdout).not.toBeNull();
    const [triggers, resolves, alerts, open] = pd!.slice(1).map(Number) as [number, number, number, number];
    expect(triggers).toBeGreaterThan(0);
    // Deduplicated: one alert per finding, however often it was seen; a resolve closes one.
    expect(alerts).toBeLessThanOrEqual(triggers);
    expect(resolves).toBeGreaterThan(0);
    expect(open).toBe(alerts - resolves);
    const hec = number(run.stdout, /Splunk HEC \(local\)\s+(\d+) events/);
    expect(hec).toBeGreaterThanOrEqual(triggers + resolves);
    const syslog = /syslog TCP \(local, RFC 5424\)\s+(\d+) messages, (\d+) with a CEF payload/.exec(run.stdout);
    expect(Number(syslog?.[1])).toBe(triggers + resolves);
    expect(Number(syslog?.[2])).toBe(Number(syslog?.[1]));
    expect(number(run.stdout, /alerts dead-lettered\s+(\d+)/)).toBe(0);
  });

  it('raises findings of every detector on its injected attacks, and none on the benign fleet', async () => {
    const run = await full();
    expect(run.code, run.stderr).toBe(0);
    const expected = new Set(SCENARIOS.flatMap((s) => s.detects ?? []));
    expect(expected.size).toBeGreaterThanOrEqual(9);
    for (const type of expected) {
      const line = new RegExp(`^\\s+${type}\\s+(\\d+) findings: (\\d+) injected · (\\d+) benign`, 'm').exec(run.stdout);
      expect(line, `${type} in the detections summary`).not.toBeNull();
      expect(Number(line![2]), `${type} findings on injected misbehaviour`).toBeGreaterThan(0);
    }
    // No detector raises anything on the benign fleet.
    const benign = [...run.stdout.matchAll(/^\s+(\w+)\s+\d+ findings: \d+ injected · (\d+) benign/gm)];
    expect(benign.length).toBeGreaterThanOrEqual(expected.size);
    for (const [, type, count] of benign) expect(Number(count), `${type} findings on benign traffic`).toBe(0);
  });

  it('shows the inventory with the unapproved model and the posture score with what would raise it', async () => {
    const run = await full();
    expect(run.code, run.stderr).toBe(0);
    const notApproved = /not approved\s+(.*)$/m.exec(run.stdout)?.[1] ?? '';
    expect(notApproved.split(', ').sort()).toEqual([
      'app marketing-genie',
      'endpoint api.deepseek.com',
      'model deepseek-chat',
      'provider deepseek',
    ]);
    expect(number(run.stdout, /inventory\s+.*?(\d+) model/)).toBeGreaterThanOrEqual(9);
    const score = number(run.stdout, /posture score\s+(\d+)\/100/);
    expect(score).toBeGreaterThanOrEqual(0);
    expect(score).toBeLessThan(100);
    const actions = [...run.stdout.matchAll(/^\s+\d\. \+(\d+\.\d) (.+)$/gm)];
    expect(actions).toHaveLength(3);
    for (const [, points] of actions) expect(Number(points)).toBeGreaterThan(0);
  });

  it('attributes the third-party fleet through its traces and merges each call reported twice', async () => {
    const run = await full();
    expect(run.code, run.stderr).toBe(0);
    // What the generator made, regenerated here: times differ from the run's, counts do not.
    const traffic = demoTraffic({ seed: 3, total: 18_000, tenant: 'demo', spanMs: 24 * 3_600_000, endMs: Date.now() });
    const made = [...traffic].map(truthOf).reduce(addTruth, noTruth());
    const [own, inherited, none] = /attribution\s+([\d,]+) own · ([\d,]+) inherited · ([\d,]+) none/
      .exec(run.stdout)!
      .slice(1)
      .map((x) => Number(x.replaceAll(',', '')));
    expect(inherited).toBeGreaterThan(0);
    expect({ own, inherited, none }).toEqual({ own: made.own, inherited: made.inherited, none: made.none });
    expect(made.twins).toBeGreaterThan(0);
    expect(number(run.stdout, /calls merged\s+([\d,]+) of/)).toBe(made.twins);
    expect(number(run.stdout, /of ([\d,]+) calls reported twice/)).toBe(made.twins);
    expect(number(run.stdout, /\(([\d,]+) stored events joined from two reports/)).toBe(made.twins);
    // Read back from the store: the third-party calls scored under their agents, none under `<app>/-` but the agent-less app's.
    expect(number(run.stdout, /: ([\d,]+) events, the agent named on the agent span only/)).toBe(
      thirdPartyEvents(18_000),
    );
    expect(number(run.stdout, /scored under their agent: ([\d,]+)/)).toBe(made.inherited);
    expect(number(run.stdout, /under <app>\/-: ([\d,]+)/)).toBe(0);
    expect(number(run.stdout, /\(no agent\): ([\d,]+)/)).toBe(made.none);
    expect(number(run.stdout, /response ids stored twice: ([\d,]+)/)).toBe(0);
  });

  it('stops cleanly on Ctrl-C: everything produced is stored, and the summary still prints', async () => {
    const run = await aispm(['demo', '--duration', '60', '--rate', '1000'], 4000);
    expect(run.code, run.stderr).toBe(130);
    expect(run.stderr).toContain('SIGINT: stopping, flushing what was produced');
    const stored = number(run.stdout, /events stored\s+([\d,]+) of/);
    const published = number(run.stdout, /events stored\s+[\d,]+ of ([\d,]+) published/);
    expect(stored).toBeGreaterThan(0);
    expect(stored).toBe(published);
  });

  it('explains a bad flag and exits 2', async () => {
    const run = await aispm(['demo', '--rate', 'fast']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--rate expects a positive number, got "fast"');
  });

  it('stops on a wrong configuration value, naming the key', async () => {
    const child = await new Promise<Run>((resolve) => {
      const p = spawn(process.execPath, [join(repo, 'services/cli/src/main.ts'), 'demo'], {
        env: { ...process.env, AISPM_MODE: 'cluster' },
      });
      let stderr = '';
      p.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      p.on('close', (code) => resolve({ code, stdout: '', stderr }));
    });
    expect(child.code).toBe(1);
    expect(child.stderr).toContain('configuration AISPM_MODE: got "cluster"; expected "embedded"');
  });

  it.each(['demo', 'up', 'migrate', 'gateway'])('prints help for %s', async (command) => {
    const run = await aispm([command, '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Usage: aispm ${command}`);
  });
});
