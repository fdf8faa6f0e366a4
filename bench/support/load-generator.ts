import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createEventCodec, traceKey, type OutgoingRecord } from '@aispm/core';
import { KafkaBus } from '@aispm/bus';
import { generateTraffic } from '@aispm/cli';

/**
 * The pipeline bench's producer, in a worker thread of its own: in a deployment
 * the events come from other processes (gateways, shims), so the producer must not
 * share the processor's event loop. On the main thread, its publishes queued
 * behind the processor's work and it could not keep a pace of 30,000 events/s: the
 * "at target" rounds then measured a slowed producer, not the pipeline's backlog.
 */
export interface LoadOptions {
  brokers: string[];
  /** Events generated once (seeded), then published in every round. */
  events: number;
  /** Events per publish call. */
  chunk: number;
}

export interface Round {
  topic: string;
  /** Events per second, or null to publish as fast as the broker takes them. */
  rate: number | null;
}

/** When each chunk's publish was called, in ms since the epoch (performance.timeOrigin + now, comparable across threads). */
export type SentAt = number[];

export interface LoadGenerator {
  readonly events: number;
  publish(round: Round): Promise<SentAt>;
  stop(): Promise<void>;
}

export const nowMs = (): number => performance.timeOrigin + performance.now();

/** Marks the worker this module starts, so importing it from another worker starts nothing. */
const ROLE = 'aispmLoadGenerator';

/** Starts the worker; resolves once its events are encoded. */
export async function startLoadGenerator(options: LoadOptions): Promise<LoadGenerator> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { ...options, [ROLE]: true } });
  const failed = new Promise<never>((_, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the load generator exited with code ${code}`)));
  });
  const next = <T>(): Promise<T> =>
    Promise.race([new Promise<T>((resolve) => worker.once('message', (m: T) => resolve(m))), failed]);
  await next<'ready'>();
  return {
    events: options.events,
    publish: (round) => {
      const sent = next<SentAt>();
      worker.postMessage(round);
      return sent;
    },
    stop: async () => {
      worker.postMessage('stop');
      await new Promise((resolve) => worker.once('exit', resolve));
    },
  };
}

/** The events, encoded once, in chunks of `chunk` records: one publish call each. */
function encodedChunks(events: number, chunk: number): OutgoingRecord[][] {
  const codec = createEventCodec();
  const records: OutgoingRecord[] = [];
  for (const event of generateTraffic({
    seed: 3,
    total: events,
    tenant: 'acme',
    spanMs: 24 * 3_600_000,
    endMs: Date.now() - 60_000,
  })) {
    records.push({ key: traceKey(event), value: codec.encode(event) });
  }
  const chunks: OutgoingRecord[][] = [];
  for (let i = 0; i < records.length; i += chunk) chunks.push(records.slice(i, i + chunk));
  return chunks;
}

function serve(options: LoadOptions): void {
  const port = parentPort!;
  const chunks = encodedChunks(options.events, options.chunk);
  const bus = new KafkaBus({ brokers: options.brokers, clientId: 'aispm-bench-load', log: () => undefined });
  port.postMessage('ready');
  port.on('message', (message: Round | 'stop') => {
    if (message === 'stop') {
      void bus.close().then(() => port.close());
      return;
    }
    void publishRound(bus, chunks, options.chunk, message).then((sent) => port.postMessage(sent));
  });
}

async function publishRound(bus: KafkaBus, chunks: OutgoingRecord[][], chunk: number, round: Round): Promise<SentAt> {
  // Connects and checks the topic before the clock starts: no records, nothing published.
  await bus.publish(round.topic, []);
  const sent: SentAt = [];
  const start = nowMs();
  for (let i = 0; i < chunks.length; i++) {
    if (round.rate !== null) {
      const wait = start + ((i * chunk) / round.rate) * 1000 - nowMs();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    sent.push(nowMs());
    await bus.publish(round.topic, chunks[i]!);
  }
  return sent;
}

if (!isMainThread && (workerData as Record<string, unknown> | null)?.[ROLE] === true) serve(workerData as LoadOptions);
