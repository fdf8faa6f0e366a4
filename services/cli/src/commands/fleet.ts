import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { Logger } from '@aispm/core';
import { demoTraffic } from '../demo/mix.ts';
import { toOtlpJson } from '../demo/otlp.ts';
import type { TraceRecord } from '../demo/third-party.ts';
import { abortOnSignals } from '../signals.ts';
import { positiveNumber, UsageError } from '../usage.ts';

export const FLEET_HELP = `Usage: aispm fleet --gateway <url> --key-file <path> [options]

Sends the demo's synthetic fleet of AI apps and agents (benign traffic with the
demo's attacks and misbehaviour mixed in) to a running gateway as OTLP/HTTP JSON,
the way instrumented apps export their spans. The tenant is the key's. For
\`docker compose --profile demo\`, and for trying a gateway from outside.

Options:
  --gateway <url>    the gateway's base URL, e.g. http://127.0.0.1:4318 (required)
  --key-file <path>  a file holding the tenant's gateway API key (required)
  --duration <s>     seconds to send for                         (default 60)
  --rate <n>         events per second                           (default 500)
  --hours <h>        simulated hours of activity, ending now     (default 24)
  --seed <n>         random seed; the same seed sends the same   (default 42)
  -h, --help         show this help

A 429 or 503 is retried after its Retry-After; a gateway not up yet is waited
for. Ctrl-C stops sending.`;

/** Spans per request: a few hundred, as the OTel SDK's batch processor exports. */
const MAX_SPANS_PER_REQUEST = 256;
const MAX_WAIT_MS = 30_000;

export async function fleetCommand(argv: string[], log: Logger): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      gateway: { type: 'string' },
      'key-file': { type: 'string' },
      duration: { type: 'string', default: '60' },
      rate: { type: 'string', default: '500' },
      hours: { type: 'string', default: '24' },
      seed: { type: 'string', default: '42' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${FLEET_HELP}\n`);
    return 0;
  }
  if (values.gateway === undefined) throw new UsageError('--gateway <url> is required');
  if (values['key-file'] === undefined) throw new UsageError('--key-file <path> is required');
  const url = new URL('/v1/traces', values.gateway).href;
  const key = readFileSync(values['key-file'], 'utf8').trim();
  const durationS = positiveNumber('--duration', values.duration);
  const rate = positiveNumber('--rate', values.rate);
  const hours = positiveNumber('--hours', values.hours);
  const seed = positiveNumber('--seed', values.seed, true);

  const stop = new AbortController();
  abortOnSignals(() => stop.abort());
  const started = Date.now();
  const traffic = demoTraffic({
    seed,
    total: Math.round(rate * durationS),
    tenant: 'fleet',
    spanMs: hours * 3_600_000,
    endMs: started,
  });
  /** Distinct AI actions acknowledged: a call reported twice (by a framework and its SDK) counts once. */
  let sent = 0;
  let batch: TraceRecord[] = [];
  let batchEvents = 0;
  let lastReport = started;
  const send = async (records: TraceRecord[], events: number): Promise<void> => {
    try {
      await post(url, key, JSON.stringify(toOtlpJson(records)), stop.signal, log);
      sent += events;
    } catch (err) {
      // Ctrl-C while a request is out: what the gateway did not answer for was not sent.
      if (!stop.signal.aborted) throw err;
    }
  };
  for (const trace of traffic) {
    if (stop.signal.aborted) break;
    batch.push(...trace.records);
    batchEvents += trace.events;
    if (batch.length < MAX_SPANS_PER_REQUEST) continue;
    await send(batch, batchEvents);
    batch = [];
    batchEvents = 0;
    // Paced to the rate: ahead of schedule, wait.
    const dueMs = started + (sent / rate) * 1000;
    if (dueMs > Date.now()) await sleep(dueMs - Date.now(), undefined, { signal: stop.signal }).catch(() => {});
    if (Date.now() - lastReport >= 5_000) {
      lastReport = Date.now();
      log.info('fleet', { sent, per_second: Math.round(sent / ((lastReport - started) / 1000)) });
    }
  }
  if (batch.length > 0 && !stop.signal.aborted) await send(batch, batchEvents);
  process.stdout.write(`sent ${sent} events to ${url} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return 0;
}

/** POSTs one request until the gateway takes it: Retry-After on 429 and 503, backoff while it is not up. */
async function post(url: string, key: string, body: string, signal: AbortSignal, log: Logger): Promise<void> {
  let waitMs = 500;
  for (;;) {
    let retryAfterMs: number | null = null;
    try {
      const response = await fetch(url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        signal,
      });
      const text = await response.text();
      if (response.ok) return;
      if (response.status !== 429 && response.status !== 503) {
        throw new UsageError(`the gateway at ${url} answered ${response.status}: ${text.slice(0, 500)}`);
      }
      const header = Number(response.headers.get('retry-after'));
      retryAfterMs = Number.isFinite(header) && header > 0 ? header * 1000 : null;
      log.warn('gateway busy, retrying', { status: response.status, retry_after_s: retryAfterMs ?? waitMs / 1000 });
    } catch (err) {
      if (err instanceof UsageError || signal.aborted) throw err;
      log.warn('gateway not reachable, retrying', { url, error: (err as Error).message });
    }
    await sleep(Math.min(retryAfterMs ?? waitMs, MAX_WAIT_MS), undefined, { signal });
    waitMs = Math.min(waitMs * 2, MAX_WAIT_MS);
  }
}
