import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { loadConfig, silentLogger, tuneGarbageCollection } from '@aispm/core';
import { startRuntime } from '@aispm/cli';
import { startGateway } from '@aispm/gateway';
import { machineBusy, median, percentile, type Benchmark } from './harness.ts';
import { genAiBatches } from './support/genai-batches.ts';
import type { Answer, PacedJob, PacedResult } from './support/paced-sender.ts';

/**
 * The whole embedded pipeline as `aispm up` runs it, in this process: OTLP
 * protobuf requests (a sender thread) → gateway → the durable on-disk bus →
 * processor (both stages) → chdb. A poller counts score rows every 25 ms; a
 * request's latency is from its 200 to the moment the row count covers every span
 * acknowledged up to it (200 → queryable score).
 *
 * Rounds of ROUND_MS: two floods to warm up, three floods measured (events_per_sec:
 * score rows made queryable per second over the round, the rate the pipeline
 * sustains with the gateway's backpressure turning the excess away), three rounds
 * paced at TARGET_RATE (or 90% of the sustained rate when it is lower) for the
 * latency, then one round offering twice the sustained rate, during which the
 * process's resident memory is sampled (rss_mb_peak: the whole process, sender
 * thread included).
 */
const SPANS_PER_BODY = 500;
const BODIES = 160;
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 20_000);
const TARGET_RATE = 20_000;
const KEY = 'bench-key-0123456789abcdef';

interface Round {
  /** Score rows made queryable per second over the round (first answer to last row). */
  deliveredPerSec: number;
  acked: number;
  turnedAway: number;
  p50: number;
  p99: number;
  rssPeakMb: number;
}

const bench: Benchmark = {
  description: 'OTLP → gateway → durable embedded bus → processor → chdb, 200 to score queryable',
  async run(progress) {
    tuneGarbageCollection(); // as the aispm command does
    const dataDir = mkdtempSync(join(tmpdir(), 'aispm-bench-embedded-'));
    const config = loadConfig({
      AISPM_DATA_DIR: dataDir,
      AISPM_GATEWAY_PORT: '0',
      AISPM_METRICS_PORT: '0',
      AISPM_GATEWAY_KEYS: `bench:${KEY}`,
      ...(process.env.AISPM_GATEWAY_OFFLOAD_BYTES
        ? { AISPM_GATEWAY_OFFLOAD_BYTES: process.env.AISPM_GATEWAY_OFFLOAD_BYTES }
        : {}),
    });
    const runtime = await startRuntime(config, silentLogger);
    const gateway = await startGateway({ bus: runtime.bus, config, log: silentLogger });
    try {
      const url = `${gateway.url}/v1/traces`;
      const batches = genAiBatches(BODIES, SPANS_PER_BODY);
      let rounds = 0;
      const scoreRows = async (): Promise<number> =>
        Number((await runtime.store.query<{ n: string }>('SELECT count() AS n FROM anomaly_scores'))[0]!.n);

      const once = async (label: string, rate: number | null): Promise<Round> => {
        await runtime.drain();
        const before = await scoreRows();
        const polls: { at: number; rows: number }[] = [];
        let rssPeak = process.memoryUsage.rss();
        let polling = true;
        const poller = (async () => {
          while (polling) {
            polls.push({ at: Date.now(), rows: (await scoreRows()) - before });
            rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
            await new Promise((resolve) => setTimeout(resolve, 25));
          }
        })();
        const job: PacedJob = {
          url,
          key: KEY,
          bodies: batches.map((b) => b.body),
          traceIdAt: batches.map((b) => b.traceIdAt),
          round: ++rounds,
          spansPerBody: SPANS_PER_BODY,
          rate,
          durationMs: ROUND_MS,
          concurrency: 16,
        };
        const { answers } = await new Promise<PacedResult>((resolve, reject) => {
          const worker = new Worker(new URL('./support/paced-sender.ts', import.meta.url), { workerData: job });
          worker.once('message', resolve);
          worker.once('error', reject);
        });
        const acked = answers.filter((a) => a.status === 200).reduce((n, a) => n + a.spans, 0);
        const turnedAway = answers.filter((a) => a.status !== 200).length;
        const deadline = Date.now() + 120_000;
        while ((polls.at(-1)?.rows ?? 0) < acked && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        polling = false;
        await poller;
        const rows = polls.at(-1)?.rows ?? 0;
        if (rows < acked)
          progress(`${label}: only ${rows} of ${acked} acknowledged events became queryable within 120 s`);
        const latencies = latenciesOf(answers, polls);
        const first = answers.reduce((t, a) => Math.min(t, a.at), Infinity);
        const done = polls.find((p) => p.rows >= acked)?.at ?? Date.now();
        const round: Round = {
          deliveredPerSec: acked / ((done - first) / 1000),
          acked,
          turnedAway,
          p50: percentile(latencies, 0.5),
          p99: percentile(latencies, 0.99),
          rssPeakMb: rssPeak / 2 ** 20,
        };
        progress(
          `${label}: ${Math.round(round.deliveredPerSec).toLocaleString('en-US')} events/s queryable, ` +
            `${acked.toLocaleString('en-US')} acknowledged, ${turnedAway} requests turned away, ` +
            `p50 ${round.p50.toFixed(0)} ms, p99 ${round.p99.toFixed(0)} ms, RSS peak ${round.rssPeakMb.toFixed(0)} MB`,
        );
        return round;
      };

      for (let i = 1; i <= 2; i++) await once(`warm-up flood ${i}`, null);
      const floods: Round[] = [];
      for (let i = 1; i <= 3; i++) floods.push(await once(`flood ${i}`, null));
      const sustained = median(floods.map((r) => r.deliveredPerSec));
      const pacedRate = sustained >= TARGET_RATE ? TARGET_RATE : Math.floor(sustained * 0.9);
      const paced: Round[] = [];
      for (let i = 1; i <= 3; i++) paced.push(await once(`paced ${i} at ${pacedRate}/s`, pacedRate));
      const double = await once(`twice the sustained rate (${Math.round(sustained * 2)}/s)`, Math.round(sustained * 2));
      const rssPeak = Math.max(double.rssPeakMb, ...floods.map((r) => r.rssPeakMb));
      return {
        metrics: {
          events_per_sec: { value: Math.round(sustained), unit: 'events/s' },
          latency_p99_ms: { value: Math.round(median(paced.map((r) => r.p99))), unit: 'ms' },
          latency_p50_ms: { value: Math.round(median(paced.map((r) => r.p50))), unit: 'ms' },
          rss_mb_peak: { value: Math.round(rssPeak), unit: 'MB' },
        },
        params: {
          round_ms: ROUND_MS,
          spans_per_request: SPANS_PER_BODY,
          latency_measured_at_per_sec: pacedRate,
          flood_for_rss_per_sec: Math.round(sustained * 2),
          fsync: config.bus.fsync,
        },
        noisy: machineBusy(),
        notes: [
          `floods (events/s): ${floods.map((r) => Math.round(r.deliveredPerSec)).join(', ')}`,
          `paced p99 (ms): ${paced.map((r) => Math.round(r.p99)).join(', ')}`,
          `requests turned away during the 2x round: ${double.turnedAway}`,
          'rss_mb_peak is the whole process: gateway, bus, processor, chdb and the sender thread',
        ],
      };
    } finally {
      await gateway.close();
      await runtime.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
};

/**
 * For each acknowledged request, in answer order: ms from its 200 until the score
 * rows cover every span acknowledged up to and including it.
 */
function latenciesOf(answers: readonly Answer[], polls: readonly { at: number; rows: number }[]): number[] {
  const acked = answers.filter((a) => a.status === 200).sort((a, b) => a.at - b.at);
  const latencies: number[] = [];
  let covered = 0;
  let p = 0;
  for (const answer of acked) {
    covered += answer.spans;
    // Both only grow along the run, so the first poll that qualifies only moves forward.
    while (p < polls.length && (polls[p]!.rows < covered || polls[p]!.at < answer.at)) p++;
    if (p < polls.length) latencies.push(polls[p]!.at - answer.at);
  }
  return latencies.sort((a, b) => a - b);
}

export default bench;
