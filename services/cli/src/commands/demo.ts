import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  RECORD_HEADER,
  SPAN_LINK_RECORD,
  createEventCodec,
  createSpanLinkCodec,
  loadConfig,
  traceKey,
  type Config,
  type Logger,
  type OutgoingRecord,
} from '@aispm/core';
import { loadPolicy } from '@aispm/processor';
import { progressBar } from '../progress.ts';
import { startRuntime } from '../runtime.ts';
import { abortOnSignals } from '../signals.ts';
import { formatDemoAlerts, startDemoAlerts, type DemoAlertsReport } from './alerts.ts';
import { positiveNumber } from '../usage.ts';
import { formatSummary, summarize, type DemoSummary } from '../demo/summary.ts';
import { demoTraffic } from '../demo/mix.ts';
import { addTruth, noTruth, truthOf, type DemoTrace, type TraceRecord, type TraceTruth } from '../demo/third-party.ts';
import { injectedCount } from '../demo/traffic.ts';

export const DEMO_HELP = `Usage: aispm demo [options]

Drives a synthetic fleet of AI apps and agents (benign traffic plus injected,
labeled misbehaviour) through the pipeline — events → bus → processor → store —
then prints a summary read back from the store. The alerter delivers the findings
to local PagerDuty-format, Splunk HEC and syslog receivers (critical ones to all
three, the others to HEC), and the summary shows what each received. A share
of the traffic comes from apps traced by third-party instrumentations: the agent
named on the agent span only, some model calls reported twice; the summary shows
how trace assembly attributed and merged them. Runs on the embedded default: in-process bus, chdb
store under <data-dir>/demo (wiped at start), one partition per topic (a day of
simulated time passes in seconds: several partitions would reorder it).

Options:
  --duration <s>   wall-clock seconds to generate traffic for   (default 30)
  --rate <n>       events per second                             (default 2000)
  --seed <n>       random seed; the same seed gives the same run (default 42)
  --hours <h>      simulated hours of fleet activity covered     (default 24)
  --top <n>        anomalies to list in the summary              (default 10)
  --data-dir <p>   where embedded-mode data goes                 (default ./data, or AISPM_DATA_DIR)
  -h, --help       show this help

Ctrl-C stops generating, flushes what was produced, and prints the summary.`;

export interface DemoOptions {
  durationS: number;
  rate: number;
  seed: number;
  hours: number;
  top: number;
  config: Config;
}

export interface DemoResult {
  summary: DemoSummary;
  /** Events published: distinct AI actions, a call reported twice counted once. */
  published: number;
  /** What the traces published should become after trace assembly, as the generators made them. */
  expected: TraceTruth;
  interrupted: boolean;
  /** What the local PagerDuty, HEC and syslog receivers got from the alerter. */
  alerts: DemoAlertsReport;
}

const MAX_LAG = 20_000;
export const DEMO_POLICY = join(import.meta.dirname, '../demo/policy.json');
const BATCH = 500;

export async function runDemo(options: DemoOptions, log: Logger, quiet = false): Promise<DemoResult> {
  // One partition: the demo squeezes hours into seconds, so the interleaving of several
  // partitions' batches would reach each agent as minutes of simulated time out of order.
  const base = options.config;
  const config: Config = {
    ...base,
    tenant: 'demo',
    dataDir: join(base.dataDir, 'demo'),
    partitions: 1,
    // The fleet's own policy: its apps, models and providers approved, the shadow-AI scenario's not.
    processor: { ...base.processor, detection: { ...base.processor.detection, policyFile: DEMO_POLICY } },
  };
  if (config.mode === 'embedded') rmSync(config.dataDir, { recursive: true, force: true });
  const started = performance.now();
  const runtime = await startRuntime(config, log);
  const signal = abortOnSignals((s) => process.stderr.write(`\n${s}: stopping, flushing what was produced…\n`));
  const alerts = await startDemoAlerts(config, runtime.bus, log);
  const benign = Math.max(1, Math.round(options.durationS * options.rate));
  const total = benign + injectedCount();
  const traffic = demoTraffic({
    seed: options.seed,
    total: benign,
    tenant: config.tenant,
    spanMs: options.hours * 3_600_000,
    endMs: Date.now() - 60_000,
  });
  const encode = encoder();
  const bar = quiet ? null : progressBar(total, 'demo');
  let published = 0;
  const expected = noTruth();
  try {
    while (!signal.aborted) {
      const due = Math.min(total, Math.ceil(((performance.now() - started) / 1000) * options.rate));
      const lag = published - runtime.processor.stats().received;
      if (published >= total) break;
      if (due <= published || lag > MAX_LAG) {
        await sleep(20);
      } else {
        // Whole traces only, so that a stop never leaves one waiting for spans that will not come.
        const records: OutgoingRecord[] = [];
        let events = 0;
        for (const trace of takeTraces(traffic, Math.min(BATCH, due - published))) {
          records.push(...trace.records.map(encode));
          events += trace.events;
          addTruth(expected, truthOf(trace));
        }
        await runtime.bus.publish(config.topics.events, records);
        published += events;
      }
      const stats = runtime.processor.stats();
      const elapsed = (performance.now() - started) / 1000;
      bar?.update(published, { stored: stats.stored, rate: Math.round(stats.received / Math.max(elapsed, 0.001)) });
    }
    // Every event leaves the traces stage (twins merged into one) and reaches the agents stage.
    while (runtime.processor.stats().received < published) await sleep(20);
    // The entities stage takes what the agents stage re-keyed; the summary reads its findings too.
    const { entities } = runtime;
    while (entities && entities.stats().received < runtime.processor.stats().forwarded) await sleep(20);
    bar?.update(published, { stored: runtime.processor.stats().stored, rate: 0 });
  } finally {
    bar?.stop();
  }
  // The findings raised are all on the bus by now; the alerter delivers them (resolves after their triggers).
  const alerted = await alerts.finish(signal.aborted ? 5_000 : 60_000);
  const summary = await summarize(runtime.store, config.tenant, options.top, loadPolicy(DEMO_POLICY));
  const seconds = (performance.now() - started) / 1000;
  const traces = runtime.traces.stats();
  const deadLettered = [runtime.processor.stats().deadLettered, traces.deadLettered]
    .flatMap((counts) => Object.values(counts))
    .reduce((a, b) => a + b, 0);
  await runtime.close();
  const run = { seconds, published, deadLettered, twins: expected.twins, merged: traces.merged };
  if (!quiet) process.stdout.write(formatSummary(summary, run) + formatDemoAlerts(alerted));
  return { summary, published, expected, interrupted: signal.aborted, alerts: alerted };
}

export async function demoCommand(argv: string[], log: Logger): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '30' },
      rate: { type: 'string', default: '2000' },
      seed: { type: 'string', default: '42' },
      hours: { type: 'string', default: '24' },
      top: { type: 'string', default: '10' },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${DEMO_HELP}\n`);
    return 0;
  }
  const result = await runDemo(
    {
      durationS: positiveNumber('--duration', values.duration),
      rate: positiveNumber('--rate', values.rate),
      seed: Math.trunc(positiveNumber('--seed', values.seed, true)),
      hours: positiveNumber('--hours', values.hours),
      top: Math.trunc(positiveNumber('--top', values.top)),
      config: loadConfig(process.env, { dataDir: values['data-dir'] }),
    },
    log,
  );
  return result.interrupted ? 130 : 0;
}

/** Records on the events topic: keyed by trace, so a trace is assembled in one place; links marked by their header. */
function encoder(): (record: TraceRecord) => OutgoingRecord {
  const codec = createEventCodec();
  const linkCodec = createSpanLinkCodec();
  return (record) =>
    record.link
      ? {
          key: traceKey(record.link),
          value: linkCodec.encode(record.link),
          headers: { [RECORD_HEADER]: SPAN_LINK_RECORD },
        }
      : { key: traceKey(record.event), value: codec.encode(record.event) };
}

/** Whole traces until they hold at least `events` events. */
function* takeTraces(source: Iterator<DemoTrace>, events: number): Generator<DemoTrace> {
  let taken = 0;
  while (taken < events) {
    const next = source.next();
    if (next.done) return;
    taken += next.value.events;
    yield next.value;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
