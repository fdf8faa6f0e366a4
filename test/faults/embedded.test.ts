import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../support/until.ts';
import { children, dataDir, lastLogs } from '../processor/support.ts';
import { describeRun, KEY, ledger, startSending, startUp, TENANT } from './support.ts';

/**
 * The embedded fault suite: `aispm up` on its default (the durable on-disk bus,
 * chdb) takes OTLP traffic from concurrent senders and is stopped mid-stream,
 * three times by kill -9 and three times by Ctrl-C. Every span answered 200 is
 * stored once with its score: after kill -9 once the next start has replayed the
 * bus, after Ctrl-C before the process exits (it drains).
 */
const RUNS = 3;
/** Spans acknowledged before the fault is injected. */
const ACKED_BEFORE_FAULT = 4000;

function embeddedEnv(dir: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AISPM_DATA_DIR: dir,
    AISPM_GATEWAY_PORT: '0',
    AISPM_METRICS_PORT: '0',
    AISPM_GATEWAY_KEYS: `${TENANT}:${KEY}`,
    AISPM_LOG_LEVEL: 'info',
  };
}

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

describe('embedded mode loses nothing it acknowledged', () => {
  for (let run = 1; run <= RUNS; run++) {
    it(`kill -9 mid-stream, then a restart replays the bus (run ${run} of ${RUNS})`, { timeout: 180_000 }, async () => {
      const dir = dataDir('faults-kill');
      const env = embeddedEnv(dir);
      const { up, url } = await startUp(`kill-${run}`, env);
      const sending = startSending(url);
      await until(() => sending.sent.acked.size >= ACKED_BEFORE_FAULT, 'spans acknowledged before the kill', {
        timeoutMs: 60_000,
        context: lastLogs(up),
      });
      up.child.kill('SIGKILL');
      await up.exited;
      const sent = await sending.stop();

      const again = await startUp(`kill-${run}-restart`, env);
      again.up.child.kill('SIGINT');
      expect(await again.up.exited, lastLogs(again.up)()).toBe(0);

      const counts = await ledger(join(dir, 'chdb'), sent);
      console.log(describeRun(`embedded, kill -9, run ${run}`, sent, counts));
      expect(counts.acked).toBeGreaterThanOrEqual(ACKED_BEFORE_FAULT);
      expect(counts).toMatchObject({ lost: 0, unknown: 0, duplicateEvents: 0, duplicateScores: 0 });
      expect(counts).toMatchObject({ orphanScores: 0, unscored: 0 });
    });

    it(`Ctrl-C mid-stream drains before exiting (run ${run} of ${RUNS})`, { timeout: 180_000 }, async () => {
      const dir = dataDir('faults-int');
      const { up, url } = await startUp(`int-${run}`, embeddedEnv(dir));
      const sending = startSending(url);
      await until(() => sending.sent.acked.size >= ACKED_BEFORE_FAULT, 'spans acknowledged before Ctrl-C', {
        timeoutMs: 60_000,
        context: lastLogs(up),
      });
      up.child.kill('SIGINT');
      // The senders go on while it drains: intake is closed, so none of that is acknowledged.
      expect(await up.exited, lastLogs(up)()).toBe(0);
      const sent = await sending.stop();

      const counts = await ledger(join(dir, 'chdb'), sent);
      console.log(describeRun(`embedded, Ctrl-C, run ${run}`, sent, counts));
      expect(counts.acked).toBeGreaterThanOrEqual(ACKED_BEFORE_FAULT);
      expect(counts).toMatchObject({ lost: 0, unknown: 0, duplicateEvents: 0, duplicateScores: 0 });
      expect(counts).toMatchObject({ orphanScores: 0, unscored: 0 });
    });
  }
});
