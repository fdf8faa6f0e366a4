import { createRequire } from 'node:module';
import { partitionForKey, publishChunks, recordBytes, type OutgoingRecord, type Publisher } from '@aispm/core';
import type * as Kafkajs from 'kafkajs';

/**
 * The shim's Kafka producer, on kafkajs exactly as shipped: none of the pipeline's
 * kafkajs replacements (@aispm/bus) are installed, so an app's own use of kafkajs
 * is left as it is. It publishes the way the pipeline's KafkaBus does: an
 * idempotent producer, acks from all in-sync replicas, keys partitioned by
 * core's partitionForKey (murmur2, as the Java client and the pipeline), in
 * chunks that stay under the brokers' message.max.bytes.
 */
export interface KafkaProducerOptions {
  brokers: string[];
  clientId: string;
  /** Connection attempts before a publish fails (client-wide; the producer's own retries are unbounded, as idempotence requires). */
  retries: number;
  log: (message: string, level: 'warn' | 'error') => void;
}

const MAX_REQUEST_BYTES = 768 * 1024;

export class KafkaProducer implements Publisher {
  readonly #producer: Kafkajs.Producer;
  readonly #admin: Kafkajs.Admin;
  /** Topics known to exist: the idempotent producer would retry a missing one forever. */
  readonly #known = new Set<string>();
  #connecting: Promise<void> | undefined;

  constructor(options: KafkaProducerOptions) {
    // Loaded when a Kafka exporter is made, so an app that exports over OTLP never loads kafkajs.
    const kafkajs = createRequire(import.meta.url)('kafkajs') as typeof Kafkajs;
    const kafka = new kafkajs.Kafka({
      brokers: options.brokers,
      clientId: options.clientId,
      logLevel: kafkajs.logLevel.WARN,
      logCreator:
        () =>
        ({ namespace, level, log }) =>
          options.log(`kafkajs ${namespace}: ${log.message}`, level === kafkajs.logLevel.ERROR ? 'error' : 'warn'),
      retry: { retries: options.retries },
    });
    this.#producer = kafka.producer({
      idempotent: true,
      createPartitioner:
        () =>
        ({ partitionMetadata, message }) =>
          partitionForKey(message.key as string, partitionMetadata.length),
      allowAutoTopicCreation: false,
      retry: { retries: Number.MAX_SAFE_INTEGER },
    });
    this.#admin = kafka.admin();
  }

  async publish(topic: string, records: readonly OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return;
    const chunks = publishChunks(records, MAX_REQUEST_BYTES);
    const oversized = chunks.find((c) => c.length === 1 && recordBytes(c[0]!) > MAX_REQUEST_BYTES);
    if (oversized) throw new Error(`a record of ${recordBytes(oversized[0]!)} bytes is over the publish limit`);
    this.#connecting ??= Promise.all([this.#producer.connect(), this.#admin.connect()]).then(
      () => undefined,
      (err: unknown) => {
        this.#connecting = undefined;
        throw err;
      },
    );
    await this.#connecting;
    if (!this.#known.has(topic)) {
      if (!(await this.#admin.listTopics()).includes(topic)) throw new Error(`topic ${topic} does not exist`);
      this.#known.add(topic);
    }
    // One chunk after another: the idempotent producer keeps their order per partition.
    for (const chunk of chunks)
      await this.#producer.send({
        topic,
        acks: -1,
        messages: chunk.map((r) => ({ key: r.key, value: r.value, headers: r.headers ?? {} })),
      });
  }

  async close(): Promise<void> {
    await Promise.all([this.#producer.disconnect(), this.#admin.disconnect()]);
  }
}
