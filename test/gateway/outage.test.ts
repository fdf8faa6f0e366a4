import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_ACME, conversationSpans, startTestGateway, type TestGateway } from './support.ts';

/**
 * A Kafka outage made real: a dedicated broker (not the run's shared one) is frozen with
 * SIGSTOP, so it holds its connections and answers nothing, then thawed with SIGCONT.
 */
const script = join(import.meta.dirname, '../../deploy/local/kafka/kafka.sh');
const dir = mkdtempSync(join(tmpdir(), 'aispm-gw-outage-'));
let gw: TestGateway;
let pid: number;

beforeAll(async () => {
  const bootstrap = execFileSync('bash', [script, 'start', dir], { encoding: 'utf8' }).trim().split('\n').at(-1)!;
  pid = Number(readFileSync(join(dir, 'broker.pid'), 'utf8'));
  gw = await startTestGateway([bootstrap], { AISPM_GATEWAY_PUBLISH_TIMEOUT_MS: '1500' });
}, 180_000);

afterAll(async () => {
  if (pid) process.kill(pid, 'SIGCONT');
  await gw?.close();
  execFileSync('bash', [script, 'stop', dir]);
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

const headers = { 'content-type': 'application/x-protobuf', authorization: `Bearer ${KEY_ACME}` };

/** Posts until the gateway answers 200 or the time is up, as an OTLP exporter retries; returns the last status. */
async function postUntil200(url: string, body: Uint8Array, withinMs: number): Promise<number> {
  const deadline = Date.now() + withinMs;
  let status = 0;
  while (status !== 200 && Date.now() < deadline) {
    status = (await fetch(url, { method: 'POST', body, headers })).status;
    if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return status;
}

describe('gateway during a Kafka outage', () => {
  it('answers 503 with Retry-After while Kafka is out, never 200, and takes the same data once it is back', async () => {
    const spans = conversationSpans();
    const body = ProtobufTraceSerializer.serializeRequest(spans)!;
    const url = `${gw.gateway.url}/v1/traces`;
    // Before the outage: a broker that just started may answer 503 for a moment while the new
    // topic's leader settles (a correct answer); wait until it takes data.
    expect(await postUntil200(url, body, 30_000)).toBe(200);

    process.kill(pid, 'SIGSTOP');
    const started = Date.now();
    const during = await fetch(url, { method: 'POST', body, headers });
    expect(during.status).toBe(503);
    expect(during.headers.get('retry-after')).toBe('5');
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await fetch(`${gw.gateway.url}/readyz`)).status).toBe(503);

    process.kill(pid, 'SIGCONT');
    // The sender retries, as an OTLP exporter does after a 503, until Kafka acknowledges.
    expect(await postUntil200(url, body, 60_000)).toBe(200);
    expect((await fetch(`${gw.gateway.url}/readyz`)).status).toBe(200);
    const ids = new Set(spans.map((s) => s.spanContext().spanId));
    // At-least-once: every AI span is there (possibly more than once; sinks dedupe by event id).
    const events = await gw.waitForEvents(
      (all) => new Set(all.filter((e) => ids.has(e.span_id)).map((e) => e.span_id)).size === 2,
      'the events after recovery',
    );
    expect(new Set(events.map((e) => e.event_id)).size).toBe(2);
  }, 120_000);
});
