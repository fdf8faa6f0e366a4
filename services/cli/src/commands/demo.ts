import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createEventCodec, loadConfig, traceKey, type Config, type Logger } from '@aispm/core';
import { progressBar } from '../progress.ts';
import { startRuntime } from '../runtime.ts';
import { abortOnSignals } from '../signals.ts';
import { positiveNumber } from '../usage.ts';
import { formatSummary, summarize, type DemoSummary } from '../demo/summary.ts';
import { generateTraffic, injectedCount } from '../demo/traffic.ts';

export const DEMO_HELP = `Usage: aispm demo [options]

Drives a synthetic fleet of AI apps and agents (benign traffic plus injected,
labeled misbehaviour) through the pipeline — events → bus → processor → store —
then prints a summary read back from the store. Runs on the embedded default:
in-process bus, chdb store under <data-dir>/demo (wiped at start).

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
  published: number;
  interrupted: boolean;
}

const MAX_LAG = 20_000;
const BATCH = 500;

export async function runDemo(options: DemoOptions, log: Logger, quiet = false): Promise<DemoResult> {
  const config = { ...options.config, tenant: 'demo', dataDir: join(options.config.dataDir, 'demo') };
  if (config.mode === 'embedded') rmSync(config.dataDir, { recursive: true, force: true });
  const started = performance.now();
  const runtime = await startRuntime(config, log);
  const signal = abortOnSignals((s) => process.stderr.write(`\n${s}: stopping, flushing what was produced…\n`));
  const codec = createEventCodec();
  const benign = Math.max(1, Math.round(options.durationS * options.rate));
  const total = benign + injectedCount();
  const traffic = generateTraffic({
    seed: options.seed,
    total: benign,
    tenant: config.tenant,
    spanMs: options.hours * 3_600_000,
    endMs: Date.now() - 60_000,
  });
  const bar = quiet ? null : progressBar(total, 'demo');
  let published = 0;
  try {
    while (!signal.aborted) {
      const due = Math.min(total, Math.ceil(((performance.now() - started) / 1000) * options.rate));
      const lag = published - runtime.processor.stats().received;
      if (published >= total) break;
      if (due <= published || lag > MAX_LAG) {
        await sleep(20);
      } else {
        const records = [];
        for (const event of take(traffic, Math.min(BATCH, due - published))) {
          records.push({ key: traceKey(event), value: codec.encode(event) });
        }
        await runtime.bus.publish(config.topics.events, records);
        published += records.length;
      }
      const stats = runtime.processor.stats();
      const elapsed = (performance.now() - started) / 1000;
      bar?.update(published, { stored: stats.stored, rate: Math.round(stats.received / Math.max(elapsed, 0.001)) });
    }
    while (runtime.processor.stats().received < published) await sleep(20);
    // The entities stage takes what the agents stage re-keyed; the summary reads its findings too.
    const { entities } = runtime;
    while (entities && entities.stats().received < runtime.processor.stats().forwarded) await sleep(20);
    bar?.update(published, { stored: runtime.processor.stats().stored, rate: 0 });
  } finally {
    bar?.stop();
  }
  const summary = await summarize(runtime.store, config.tenant, options.top);
  const seconds = (performance.now() - started) / 1000;
  const deadLettered = Object.values(runtime.processor.stats().deadLettered).reduce((a, b) => a + b, 0);
  await runtime.close();
  if (!quiet) process.stdout.write(formatSummary(summary, { seconds, published, deadLettered }));
  return { summary, published, interrupted: signal.aborted };
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

function* take<T>(source: Iterator<T>, n: number): Generator<T> {
  for (let i = 0; i < n; i++) {
    const next = source.next();
    if (next.done) return;
    yield next.value;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
