import { loadConfig, silentLogger } from '@aispm/core';
import { KafkaBus } from '@aispm/bus';
import { startGateway } from '@aispm/gateway';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
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
    // Benign texts of the injection corpus, as prompts, completions and tool payloads: what the detectors see most.
    const texts = benignTexts();
    const phases: { name: string; texts: readonly string[]; detect: boolean; conversations?: boolean }[] = [
      { name: 'content, detectors on', texts, detect: true },
      { name: 'content, detectors off', texts, detect: false },
      { name: 'no content', texts: [], detect: true },
      { name: 'conversations, detectors on', texts, detect: true, conversations: true },
      { name: 'conversations, detectors off', texts, detect: false, conversations: true },
    ];
    const bus = new KafkaBus({ brokers });
    const results: PhaseResult[] = [];
    try {
      for (const phase of phases) {
        progress(`phase: ${phase.name}`);
        results.push(await runPhase(bus, brokers, phase, progress));
      }
    } finally {
      await bus.close();
      await broker.stop();
    }
    const [on, off, none, chatOn, chatOff] = results as [
      PhaseResult,
      PhaseResult,
      PhaseResult,
      PhaseResult,
      PhaseResult,
    ];
    return {
      metrics: {
        spans_per_sec_per_core: { value: Math.round(on.median), unit: 'spans/s' },
        spans_per_sec_per_core_detect_off: { value: Math.round(off.median), unit: 'spans/s' },
        spans_per_sec_per_core_no_content: { value: Math.round(none.median), unit: 'spans/s' },
        spans_per_sec_per_core_conversations: { value: Math.round(chatOn.median), unit: 'spans/s' },
        spans_per_sec_per_core_conversations_detect_off: { value: Math.round(chatOff.median), unit: 'spans/s' },
        p99_request_ms: { value: Number(percentile(on.latencies, 0.99).toFixed(2)), unit: 'ms' },
      },
      params: {
        batch: BATCH,
        senders: SENDERS,
        batches_per_repeat: BATCHES_PER_REPEAT,
        repeats: 5,
        warmup: 2,
        texts: texts.length,
        text_bytes_mean: Math.round(texts.reduce((n, t) => n + Buffer.byteLength(t), 0) / texts.length),
      },
      noisy: machineBusy() || results.some((r) => r.cv > 0.1),
      notes: [
        'per core = spans / CPU seconds of the process minus the sender thread (gateway, Kafka producer, GC)',
        'spans_per_sec_per_core: chat spans carry a prompt and a completion, tool spans arguments and a result, every text unique; content detectors on (AISPM_DETECT=true)',
        'conversations: each chat prompt re-sends its agent conversation so far (up to 8 messages), as chat APIs are called',
        ...results.map(
          (r, i) => `${phases[i]!.name}: repeat samples ${r.samples.map((x) => Math.round(x)).join(', ')}`,
        ),
      ],
    };
  },
};

interface PhaseResult {
  median: number;
  cv: number;
  samples: number[];
  latencies: number[];
}

/** One gateway on its own topic, measured over repeats of BATCHES_PER_REPEAT batches. */
async function runPhase(
  bus: KafkaBus,
  brokers: string[],
  phase: { texts: readonly string[]; detect: boolean; conversations?: boolean },
  progress: (message: string) => void,
): Promise<PhaseResult> {
  const { texts, detect } = phase;
  const config = loadConfig({
    AISPM_MODE: 'distributed',
    KAFKA_BROKERS: brokers.join(','),
    AISPM_TOPIC_EVENTS: `bench.gateway.${Date.now()}`,
    AISPM_GATEWAY_PORT: '0',
    AISPM_METRICS_PORT: '0',
    AISPM_GATEWAY_KEYS: `bench:${KEY}`,
    AISPM_DETECT: String(detect),
  });
  const gateway = await startGateway({ bus, config, log: silentLogger });
  try {
    const url = `${gateway.url}/v1/traces`;
    const bodies = genAiBatches(16, BATCH, texts, { conversations: phase.conversations }).map((b) => b.body);
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
    return { median: result.median, cv: result.cv, samples: result.samples, latencies };
  } finally {
    await gateway.close();
  }
}

/** The injection corpus' benign texts, the shorter ones (up to 1 KB: prompts and tool payloads, not documents). */
function benignTexts(): string[] {
  const dir = join(import.meta.dirname, '../test/corpus/injection');
  const texts: string[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort())
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const row = JSON.parse(line) as { text: string; label: string };
      if (row.label === 'benign' && Buffer.byteLength(row.text) <= 1024) texts.push(row.text);
    }
  return texts;
}

export default bench;
