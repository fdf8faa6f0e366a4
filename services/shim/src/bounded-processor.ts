import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';

export interface QueueOptions {
  /** Spans held while the exporter is slow or its destination down; past this, new spans are dropped (default 2048). */
  maxSpans?: number;
  /** Spans per export (default 512). */
  batchSize?: number;
  /** Longest a span waits before a partial batch is sent (default 1000 ms). */
  delayMs?: number;
  /** At most one "dropping spans" warning per this interval (default 60000 ms). */
  warnIntervalMs?: number;
}

/** What the queue did, readable from the shim's handle. */
export interface QueueStats {
  /** Spans waiting to be exported. */
  queued: number;
  exported: number;
  /** Dropped because the queue was full (the destination was down or slower than the app). */
  dropped: number;
  /** Handed to the exporter, which reported failure. */
  failed: number;
}

/**
 * Like the SDK's BatchSpanProcessor, but it counts what it drops and says so:
 * onEnd only appends to a bounded array (the app never waits on I/O), one
 * export runs at a time in the background, and a full queue drops the new span,
 * counts it and warns at most once per interval. The stock processor drops
 * silently, and a security tool must know what it did not see.
 */
export class BoundedExportProcessor implements SpanProcessor {
  readonly #exporter: SpanExporter;
  readonly #maxSpans: number;
  readonly #batchSize: number;
  readonly #delayMs: number;
  readonly #warnIntervalMs: number;
  readonly #warn: (message: string) => void;
  #queue: ReadableSpan[] = [];
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #lastWarning = -Infinity;
  #droppedSinceWarning = 0;
  #closed = false;
  readonly #stats = { exported: 0, dropped: 0, failed: 0 };

  constructor(exporter: SpanExporter, options: QueueOptions, warn: (message: string) => void) {
    this.#exporter = exporter;
    this.#maxSpans = options.maxSpans ?? 2048;
    this.#batchSize = options.batchSize ?? 512;
    this.#delayMs = options.delayMs ?? 1000;
    this.#warnIntervalMs = options.warnIntervalMs ?? 60_000;
    this.#warn = warn;
  }

  stats(): QueueStats {
    return { queued: this.#queue.length, ...this.#stats };
  }

  onStart(_span: Span, _context: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.#closed) return;
    if (this.#queue.length >= this.#maxSpans) {
      this.#stats.dropped++;
      this.#droppedSinceWarning++;
      this.#maybeWarn();
      return;
    }
    this.#queue.push(span);
    if (this.#queue.length >= this.#batchSize) this.#kick();
    else this.#timer ??= setTimeout(() => this.#kick(), this.#delayMs).unref();
  }

  /** Exports everything queued now; resolves when done (or when the exporter gives up on them). */
  async forceFlush(): Promise<void> {
    while (this.#queue.length > 0 || this.#inFlight) {
      this.#kick();
      await this.#inFlight;
    }
  }

  async shutdown(): Promise<void> {
    if (this.#closed) return;
    await this.forceFlush();
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#exporter.shutdown();
  }

  #kick(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#inFlight || this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, this.#batchSize);
    this.#inFlight = this.#export(batch).finally(() => {
      this.#inFlight = undefined;
      if (this.#queue.length >= this.#batchSize) this.#kick();
      else if (this.#queue.length > 0 && !this.#closed)
        this.#timer ??= setTimeout(() => this.#kick(), this.#delayMs).unref();
    });
  }

  #export(batch: ReadableSpan[]): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.#exporter.export(batch, (result) => {
          // ExportResultCode.SUCCESS is 0.
          if (Number(result.code) === 0) this.#stats.exported += batch.length;
          else this.#stats.failed += batch.length;
          resolve();
        });
      } catch {
        this.#stats.failed += batch.length;
        resolve();
      }
    });
  }

  #maybeWarn(): void {
    const now = performance.now();
    if (now - this.#lastWarning < this.#warnIntervalMs) return;
    this.#lastWarning = now;
    this.#warn(
      `aispm shim: the span queue is full (${this.#maxSpans} spans), so ${this.#droppedSinceWarning} spans were dropped; ` +
        'check that the exporter destination (Kafka or the gateway) is reachable, or raise queue.maxSpans',
    );
    this.#droppedSinceWarning = 0;
  }
}
