import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFindingCodec } from '@aispm/core';
import { KafkaBus } from '@aispm/bus';
import { PagerDutyReceiver } from '@aispm/alerter';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { until } from '../support/until.ts';
import { sampleFinding } from './support.ts';

/**
 * Nothing acknowledged is lost: a real `aispm alerter` on Kafka is killed with
 * SIGKILL while deliveries are in flight (the PagerDuty-format receiver answers
 * slowly), then started again. Every finding must reach the receiver at least once,
 * counted by dedup key as PagerDuty counts alerts; a re-sent one is a duplicate
 * that PagerDuty folds into the same alert.
 */
const repo = join(import.meta.dirname, '../..');
const brokers = inject('kafkaBrokers');
const ROUTING_KEY = 'R0UT1NGK3Y0123456789abcdefABCDEF';
const TOTAL = 300;
const run = randomUUID().slice(0, 8);
const topic = `it.alerter.kill.findings.${run}`;
const dir = mkdtempSync(join(tmpdir(), 'aispm-alerter-kill-'));
const bus = new KafkaBus({ brokers, log: () => undefined });
let receiver: PagerDutyReceiver;

beforeAll(async () => {
  receiver = await PagerDutyReceiver.start({ routingKey: ROUTING_KEY });
  writeFileSync(
    join(dir, 'routes.json'),
    JSON.stringify({
      version: 1,
      destinations: [
        {
          name: 'pagerduty',
          kind: 'pagerduty',
          url: receiver.url,
          routing_key_env: 'AISPM_TEST_PD_KEY',
          events_per_minute: 100_000,
          timeout_ms: 5000,
        },
      ],
      route: {
        destinations: ['pagerduty'],
        group_by: ['tenant', 'asset'],
        group_wait: '0',
        group_interval: '10ms',
        repeat_interval: '4h',
      },
      inhibit_rules: [],
    }),
  );
  await bus.ensureTopics([{ topic, partitions: 4 }]);
});

afterAll(async () => {
  await receiver.close();
  await bus.close();
  rmSync(dir, { recursive: true, force: true });
});

function alerter(): { child: ChildProcess; logs: () => string; exited: Promise<number | null> } {
  let out = '';
  const child = spawn(process.execPath, [join(repo, 'services/cli/src/main.ts'), 'alerter'], {
    cwd: repo,
    env: {
      ...process.env,
      AISPM_MODE: 'distributed',
      KAFKA_BROKERS: brokers.join(','),
      AISPM_PARTITIONS: '4',
      AISPM_TOPIC_FINDINGS: topic,
      AISPM_TOPIC_ALERTS_DLQ: `it.alerter.kill.dlq.${run}`,
      AISPM_ALERTER_GROUP: `it-alerter-kill-${run}`,
      AISPM_ALERT_ROUTES_FILE: join(dir, 'routes.json'),
      AISPM_ALERT_API_PORT: '0',
      AISPM_DATA_DIR: dir,
      AISPM_TEST_PD_KEY: ROUTING_KEY,
      // A restarted member must get the partitions at once, not after the dead one's session times out.
      AISPM_KAFKA_SESSION_TIMEOUT_MS: '6000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-8000)));
  child.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-8000)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, logs: () => out, exited };
}

describe('aispm alerter killed with SIGKILL mid-delivery', () => {
  it('delivers every finding at least once after a restart: zero lost', { timeout: 180_000 }, async () => {
    const codec = createFindingCodec();
    const findings = Array.from({ length: TOTAL }, (_, n) => sampleFinding(n, { asset: `kill-agent-${n}` }));
    await bus.publish(
      topic,
      findings.map((f) => ({ key: f.asset, value: codec.encode(f) })),
    );
    // Slow answers: many deliveries are in flight when the kill comes.
    receiver.http.failAlways({ kind: 'slow', ms: 400 });
    const first = alerter();
    await until(() => receiver.alerts.size >= 20, 'the first deliveries', { timeoutMs: 60_000, context: first.logs });
    first.child.kill('SIGKILL');
    await first.exited;
    const beforeRestart = receiver.alerts.size;
    const triggersBefore = receiver.events.filter((e) => e.event_action === 'trigger').length;
    expect(beforeRestart).toBeLessThan(TOTAL);

    receiver.http.failAlways(undefined);
    const second = alerter();
    try {
      await until(() => receiver.alerts.size >= TOTAL, `all ${TOTAL} findings delivered`, {
        timeoutMs: 120_000,
        context: () => `${receiver.alerts.size} delivered; ${second.logs()}`,
      });
      // Zero lost: every dedup key is there, as a triggered alert.
      const keys = new Set(receiver.alerts.keys());
      for (const f of findings) expect(keys.has(f.id), `finding ${f.asset}`).toBe(true);
      for (const a of receiver.alerts.values()) expect(a.status).toBe('triggered');
      const triggers = receiver.events.filter((e) => e.event_action === 'trigger').length;
      const duplicates = triggers - TOTAL;
      // Duplicates only of what the first run had sent and not committed: the second run sends each finding once.
      expect(duplicates).toBeGreaterThanOrEqual(0);
      expect(duplicates).toBeLessThanOrEqual(triggersBefore);
      process.stderr.write(
        `kill -9 test: ${TOTAL} findings, ${beforeRestart} delivered before the kill, 0 lost, ${duplicates} duplicates (folded by dedup_key)\n`,
      );
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    } finally {
      second.child.kill('SIGKILL');
    }
  });
});
