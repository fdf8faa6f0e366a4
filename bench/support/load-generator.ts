import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createEventCodec, eventRecords, type AiEvent, type OutgoingRecord } from '@aispm/core';
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
  /** The events topic (trace assembly) and the attributed topic: the load goes out as gateways send it. */
  topics: { events: string; attributed: string };
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

/** A chunk of events as a gateway publishes them (core's eventRecords): one publish call per topic. */
interface Chunk {
  events: OutgoingRecord[];
  attributed: OutgoingRecord[];
}

/** The events, encoded once, in chunks of `chunk` events. */
function encodedChunks(events: number, chunk: number): Chunk[] {
  const codec = createEventCodec();
  const all: AiEvent[] = [
    ...generateTraffic({ seed: 3, total: events, tenant: 'acme', spanMs: 24 * 3_600_000, endMs: Date.now() - 60_000 }),
  ];
  const chunks: Chunk[] = [];
  for (let i = 0; i < all.length; i += chunk) {
    const { records, direct } = eventRecords(all.slice(i, i + chunk), 'acme', codec);
    chunks.push({ events: records, attributed: direct });
  }
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

async function publishRound(bus: KafkaBus, chunks: Chunk[], chunk: number, round: Round): Promise<SentAt> {
  // Connects and checks the topics before the clock starts: no records, nothing published.
  await Promise.all([bus.publish(round.topics.events, []), bus.publish(round.topics.attributed, [])]);
  const sent: SentAt = [];
  const start = nowMs();
  for (let i = 0; i < chunks.length; i++) {
    if (round.rate !== null) {
      const wait = start + ((i * chunk) / round.rate) * 1000 - nowMs();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    sent.push(nowMs());
    const { events, attributed } = chunks[i]!;
    await Promise.all([bus.publish(round.topics.events, events), bus.publish(round.topics.attributed, attributed)]);
  }
  return sent;
}

if (!isMainThread && (workerData as Record<string, unknown> | null)?.[ROLE] === true) serve(workerData as LoadOptions);
