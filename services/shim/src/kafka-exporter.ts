import { createEventCodec, fromReadableSpan, mapSpans, type CaptureOptions, type Publisher } from '@aispm/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { KafkaProducer } from './kafka-producer.ts';

/** ExportResult of @opentelemetry/core, which the shim does not depend on directly. */
type ExportResult = Parameters<Parameters<SpanExporter['export']>[1]>[0];

export interface KafkaExporterOptions {
  tenant: string;
  /** The events topic: events for trace assembly, and span links. */
  topic: string;
  /** The attributed topic: events whose agent the span names itself (mapSpans' `direct`). */
  attributedTopic: string;
  capture: CaptureOptions;
  /** Where to publish (e.g. a test's bus); by default the shim's own Kafka producer on `brokers`. */
  bus?: Publisher;
  brokers?: string[];
  clientId?: string;
  warn: (message: string) => void;
}

/** Counts of what the exporter did with the spans it was handed. */
export interface KafkaExporterStats {
  published: number;
  /** Spans that are not AI actions (HTTP, DB...): not events, by design. */
  ignored: number;
  /** AI spans no valid event could be made of. */
  rejected: number;
}

/**
 * Spans → AiEvents (core's mapping, the same the gateway uses) → Avro
 * single-object records, as the gateway publishes them: on the events topic
 * keyed by trace for trace assembly, or on the attributed topic keyed by
 * tenant/app/agent when the span names its agent. The shim's own spans carry content already under the
 * capture policy (aispm.capture.policy says which); core's mapping applies the
 * policy again, which is idempotent, and keeps declared hashes as they are, so
 * the gateway path and this one store the same content.
 */
export class KafkaEventExporter implements SpanExporter {
  readonly #options: KafkaExporterOptions;
  readonly #bus: Publisher;
  readonly #producer: KafkaProducer | undefined;
  readonly #codec = createEventCodec();
  readonly stats: KafkaExporterStats = { published: 0, ignored: 0, rejected: 0 };

  constructor(options: KafkaExporterOptions) {
    this.#options = options;
    this.#producer = options.bus
      ? undefined
      : new KafkaProducer({
          brokers: options.brokers ?? ['127.0.0.1:9092'],
          clientId: options.clientId ?? 'aispm-shim',
          // Fail a connection attempt within seconds; the queue in front absorbs the outage.
          retries: 2,
          log: (message, level) => options.warn(`aispm shim kafka ${level}: ${message}`),
        });
    this.#bus = options.bus ?? this.#producer!;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    const { records, direct, ignored, links, rejected } = mapSpans(spans.map(fromReadableSpan), {
      tenant: this.#options.tenant,
      capture: this.#options.capture,
      codec: this.#codec,
      locate: (span) => `span ${span.spanId} (${span.name})`,
    });
    this.stats.ignored += ignored;
    this.stats.rejected += rejected.length;
    for (const { path, reason } of rejected) this.#options.warn(`aispm shim: ${path} is not a valid event: ${reason}`);
    if (records.length + direct.length === 0) {
      done({ code: 0 });
      return;
    }
    Promise.all([
      records.length > 0 ? this.#bus.publish(this.#options.topic, records) : undefined,
      direct.length > 0 ? this.#bus.publish(this.#options.attributedTopic, direct) : undefined,
    ]).then(
      () => {
        this.stats.published += records.length - links + direct.length;
        done({ code: 0 });
      },
      (err: unknown) => done({ code: 1, error: err instanceof Error ? err : new Error(String(err)) }),
    );
  }

  async shutdown(): Promise<void> {
    await this.#producer?.close();
  }

  async forceFlush(): Promise<void> {}
}
