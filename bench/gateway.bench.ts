import { loadConfig, silentLogger } from '@aispm/core';
import { KafkaBus } from '@aispm/bus';
import { startGateway, type RunningGateway } from '@aispm/gateway';
import { Worker } from 'node:worker_threads';
import { startKafkaBroker } from '../test/setup/kafka-broker.ts';
import { machineBusy, percentile, repeat, type Benchmark } from './harness.ts';
import { genAiBatches } from './support/genai-batches.ts';
import type { SendJob, SendResult } from './support/otlp-sender.ts';

/**
 * OTLP protobuf batches of 512 GenAI spans, posted on loopback by 8 concurrent senders to a
 * gateway in this process, published to a real Kafka broker (the tests' startKafkaBroker:
 * KAFKA_BROKERS, else testcontainers, else deploy/local/kafka). The senders run on a worker thread that reports its own
 * CPU time; throughput per core is spans over the CPU time the process used minus the
 * senders' — the gateway with its Kafka producer, its GC and its libuv threads.
 */
const BATCH = 512;
const SENDERS = 8;
const BATCHES_PER_REPEAT = 60;
const KEY = 'bench-key-0123456789abcdef';

const bench: Benchmark = {
  description: `OTLP protobuf batches of ${BATCH} spans → gateway → real Kafka broker`,
  async run(progress) {
    const broker = await startKafkaBroker(process.env, progress);
    progress(`Kafka: ${broker.label}`);
    const { brokers } = broker;
    const config = loadConfig({
      AISPM_MODE: 'distributed',
      KAFKA_BROKERS: brokers.join(','),
      AISPM_TOPIC_EVENTS: `bench.gateway.${Date.now()}`,
      AISPM_GATEWAY_PORT: '0',
      AISPM_METRICS_PORT: '0',
      AISPM_GATEWAY_KEYS: `bench:${KEY}`,
    });
    const bus = new KafkaBus({ brokers });
    let gateway: RunningGateway | undefined;
    try {
      gateway = await startGateway({ bus, config, log: silentLogger });
      const url = `${gateway.url}/v1/traces`;
      const bodies = genAiBatches(16, BATCH).map((b) => b.body);
      const latencies: number[] = [];
      let failures = 0;
      let measuring = false;
      const once = async (): Promise<number> => {
        const cpu = process.cpuUsage();
        const job: SendJob = { url, key: KEY, bodies, requests: BATCHES_PER_REPEAT, concurrency: SENDERS };
        const sent = await new Promise<SendResult>((resolve, reject) => {
          const worker = new Worker(new URL('./support/otlp-sender.ts', import.meta.url), { workerData: job });
          worker.once('message', resolve);
          worker.once('error', reject);
        });
        const used = process.cpuUsage(cpu);
        const cpuSeconds = (used.user + used.system - sent.cpuMicros) / 1e6;
        if (measuring) {
          latencies.push(...sent.latencies);
          failures += sent.failures;
        }
        const perCore = (BATCHES_PER_REPEAT * BATCH) / cpuSeconds;
        progress(
          `${Math.round(perCore).toLocaleString('en-US')} spans/s per core (${cpuSeconds.toFixed(2)} gateway CPU s)`,
        );
        return perCore;
      };
      await repeat(once, { warmup: 2, repeats: 0 });
      measuring = true;
      const result = await repeat(once, { warmup: 0, repeats: 5 });
      if (failures > 0) throw new Error(`${failures} requests were not answered 200; the figures would be meaningless`);
      latencies.sort((a, b) => a - b);
      return {
        metrics: {
          spans_per_sec_per_core: { value: Math.round(result.median), unit: 'spans/s' },
          p99_request_ms: { value: Number(percentile(latencies, 0.99).toFixed(2)), unit: 'ms' },
        },
        params: { batch: BATCH, senders: SENDERS, batches_per_repeat: BATCHES_PER_REPEAT, repeats: 5, warmup: 2 },
        noisy: machineBusy() || result.cv > 0.1,
        notes: [
          'per core = spans / CPU seconds of the process minus the sender thread (gateway, Kafka producer, GC)',
          `repeat samples: ${result.samples.map((s) => Math.round(s)).join(', ')}`,
        ],
      };
    } finally {
      await gateway?.close();
      await bus.close();
      await broker.stop();
    }
  },
};

export default bench;
