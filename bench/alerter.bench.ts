import { Worker } from 'node:worker_threads';
import { createFindingCodec, findingId, silentLogger, type Finding } from '@aispm/core';
import { KafkaBus } from '@aispm/bus';
import {
  createDestination,
  createDispatcher,
  parseRoutes,
  startAlerter,
  type AlerterRef,
  type AlerterService,
} from '@aispm/alerter';
import { startKafkaBroker } from '../test/setup/kafka-broker.ts';
import { machineBusy, percentile, repeat, type Benchmark } from './harness.ts';

/**
 * Findings published to a real Kafka broker → the alerter (its consumer group, R's
 * dispatcher with group_wait 0, D's webhook destination with its HMAC signature) → a
 * local webhook receiver (node:http on loopback) that notes when each finding arrives.
 * alerts_per_sec: a burst of findings, each its own group, from the first publish to
 * the last delivery. deliver_p99_ms: findings published at a steady pace, from just
 * before each publish to its arrival at the receiver.
 */
const TENANTS = 10;
const ASSETS = 500;
const BURST = TENANTS * ASSETS;
const PACE_PER_SEC = 500;
const PACE_SECONDS = 6;
const SECRET = 'bench-webhook-secret-0123456789';

const bench: Benchmark = {
  description: `findings → Kafka → alerter (group_wait 0) → webhook on loopback: a burst of ${BURST}, and ${PACE_PER_SEC}/s for ${PACE_SECONDS} s`,
  async run(progress) {
    const broker = await startKafkaBroker(process.env, progress);
    progress(`Kafka: ${broker.label}`);
    const run = Date.now().toString(36);
    const topic = `bench.alerter.findings.${run}`;
    const bus = new KafkaBus({ brokers: broker.brokers, log: () => undefined });
    const arrived = new Map<string, number>();
    /** The findings a round still waits for: checked as they arrive, not by polling every id. */
    let waiting: { missing: Set<string>; done: () => void } | undefined;
    const receiver = await listen(arrived, (id) => {
      if (!waiting?.missing.delete(id)) return;
      if (waiting.missing.size === 0) waiting.done();
    });
    const { port } = receiver;
    const routes = parseRoutes(
      JSON.stringify({
        version: 1,
        destinations: [
          { name: 'hook', kind: 'webhook', url: `http://127.0.0.1:${port}/hook`, secret_env: 'BENCH_SECRET' },
        ],
        route: {
          destinations: ['hook'],
          group_by: ['tenant', 'asset'],
          group_wait: '0',
          group_interval: '10ms',
          repeat_interval: '4h',
        },
        inhibit_rules: [],
      }),
      'bench routes',
    );
    const destination = createDestination(routes.destinations[0]!.config, { BENCH_SECRET: SECRET });
    let service: AlerterService | undefined;
    const codec = createFindingCodec();
    try {
      await bus.ensureTopics([{ topic, partitions: 8 }]);
      service = await startAlerter({
        bus,
        log: silentLogger,
        topic,
        group: `bench-alerter-${run}`,
        dlqTopic: `bench.alerter.dlq.${run}`,
        dispatcher: createDispatcher<AlerterRef>(routes),
        destinations: new Map([['hook', destination]]),
        delivery: {
          maxAttempts: 5,
          maxElapsedMs: 60_000,
          backoff: { baseMs: 50, capMs: 1000 },
          attemptTimeoutMs: 10_000,
        },
        breaker: { failures: 50, cooldownMs: 1000 },
        maxBatchSize: 500,
        concurrency: 8,
        maxInFlightPerDestination: 64,
      });
      let round = 0;
      const waitAll = async (ids: string[], timeoutMs: number): Promise<void> => {
        const missing = new Set(ids.filter((id) => !arrived.has(id)));
        if (missing.size === 0) return;
        const done = Promise.withResolvers<void>();
        waiting = { missing, done: () => done.resolve() };
        const timer = setTimeout(
          () => done.reject(new Error(`timed out: ${missing.size} findings not delivered`)),
          timeoutMs,
        );
        try {
          await done.promise;
        } finally {
          clearTimeout(timer);
          waiting = undefined;
        }
      };
      const burst = async (): Promise<number> => {
        round += 1;
        const findings = batch(round, BURST);
        const started = Date.now();
        for (let i = 0; i < findings.length; i += 1000) {
          await bus.publish(
            topic,
            findings.slice(i, i + 1000).map((f) => ({ key: f.asset, value: codec.encode(f) })),
          );
        }
        await waitAll(
          findings.map((f) => f.id),
          120_000,
        );
        const last = Math.max(...findings.map((f) => arrived.get(f.id)!));
        const rate = BURST / ((last - started) / 1000);
        progress(`burst ${round}: ${Math.round(rate)} alerts/s`);
        return rate;
      };
      const throughput = await repeat(burst, { warmup: 1, repeats: 3 });

      const paced = async (): Promise<number> => {
        round += 1;
        const findings = batch(round, PACE_PER_SEC * PACE_SECONDS);
        const sentAt = new Map<string, number>();
        const every = 1000 / PACE_PER_SEC;
        const start = Date.now();
        for (const [i, f] of findings.entries()) {
          const due = start + i * every;
          const wait = due - Date.now();
          if (wait > 1) await new Promise((r) => setTimeout(r, wait));
          sentAt.set(f.id, Date.now());
          void bus.publish(topic, [{ key: f.asset, value: codec.encode(f) }]);
        }
        await waitAll([...sentAt.keys()], 60_000);
        const latencies = [...sentAt].map(([id, at]) => arrived.get(id)! - at).sort((a, b) => a - b);
        const p99 = percentile(latencies, 0.99);
        progress(`paced ${round}: p50 ${percentile(latencies, 0.5)} ms, p99 ${p99} ms`);
        return p99;
      };
      const latency = await repeat(paced, { warmup: 1, repeats: 3 });
      return {
        metrics: {
          alerts_per_sec: { value: Math.round(throughput.median), unit: 'alerts/s' },
          deliver_p99_ms: { value: latency.median, unit: 'ms' },
        },
        params: {
          burst: BURST,
          groups: BURST,
          paced_per_sec: PACE_PER_SEC,
          paced_seconds: PACE_SECONDS,
          partitions: 8,
          group_wait: '0',
          destination: 'webhook (HMAC-SHA256)',
          kafka: broker.label,
        },
        noisy: throughput.cv > 0.1 || latency.cv > 0.25 || machineBusy(),
        notes: [
          `bursts: ${throughput.samples.map(Math.round).join(', ')} alerts/s; p99s: ${latency.samples.join(', ')} ms`,
        ],
      };
    } finally {
      await service?.stop(5000);
      await destination.close();
      await receiver.close();
      await bus.close();
      await broker.stop();
    }
  },
};

export default bench;

/** One finding per (tenant, asset): each its own group, so each is one webhook call. */
function batch(round: number, count: number): Finding[] {
  const now = Date.now() * 1000;
  return Array.from({ length: count }, (_, n) => {
    const tenant = `t${n % TENANTS}`;
    const asset = `agent-${Math.floor(n / TENANTS) % ASSETS}`;
    const type = `bench_${round}`;
    return {
      id: findingId(tenant, type, asset, 'bench.rule'),
      tenant,
      asset,
      asset_type: 'agent',
      type,
      rule: 'bench.rule',
      severity: 'critical',
      score: 0.99,
      title: `bench finding ${round}/${n}`,
      evidence: ['bench'],
      event_ids: [`e${n}`],
      first_seen: now,
      last_seen: now,
      occurrences: 1,
      status: 'open',
      owasp_llm: ['LLM06'],
      owasp_agentic: [],
      mitre_atlas: [],
      model: 'gpt-4o',
    } satisfies Finding;
  });
}

/**
 * The webhook receiver, in a worker thread of its own so its parsing does not share the
 * alerter's event loop (a receiver is another process in practice): answers 200 and
 * notes when each finding of a notification arrived, sent to the bench in batches.
 */
const RECEIVER = `
const { createServer } = require('node:http');
const { parentPort } = require('node:worker_threads');
let pending = [];
const flush = setInterval(() => {
  if (pending.length === 0) return;
  parentPort.postMessage(pending);
  pending = [];
}, 5);
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const at = Date.now();
    const body = JSON.parse(Buffer.concat(chunks).toString());
    for (const f of body.findings) pending.push([f.id, at]);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', () => {
  clearInterval(flush);
  server.close(() => parentPort.close());
  server.closeAllConnections();
});
`;

interface Receiver {
  port: number;
  close(): Promise<void>;
}

function listen(arrived: Map<string, number>, onArrived: (id: string) => void): Promise<Receiver> {
  const worker = new Worker(RECEIVER, { eval: true });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (message: { port: number } | [string, number][]) => {
      if (!Array.isArray(message)) {
        resolve({
          port: message.port,
          close: async () => {
            worker.postMessage('stop');
            await exited;
          },
        });
        return;
      }
      for (const [id, at] of message) {
        if (arrived.has(id)) continue;
        arrived.set(id, at);
        onArrived(id);
      }
    });
  });
}
