import {
  InMemorySpanExporter,
  BasicTracerProvider,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { BoundedExportProcessor } from './bounded-processor.ts';

/** An exporter that fails until told otherwise, and can hold its answer to simulate a hung destination. */
class Flaky implements SpanExporter {
  up = false;
  hold: Promise<void> | undefined;
  readonly received: ReadableSpan[] = [];
  export(spans: ReadableSpan[], done: (result: { code: number }) => void): void {
    void (this.hold ?? Promise.resolve()).then(() => {
      if (this.up) this.received.push(...spans);
      done({ code: this.up ? 0 : 1 });
    });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

function spans(processor: BoundedExportProcessor, count: number): void {
  const tracer = new BasicTracerProvider({ spanProcessors: [processor] }).getTracer('t');
  for (let i = 0; i < count; i++) tracer.startSpan(`s${i}`).end();
}

describe('BoundedExportProcessor', () => {
  it('exports in batches and counts exported spans', async () => {
    const memory = new InMemorySpanExporter();
    const processor = new BoundedExportProcessor(memory, { batchSize: 4, delayMs: 5 }, () => undefined);
    spans(processor, 10);
    await processor.forceFlush();
    expect(memory.getFinishedSpans()).toHaveLength(10);
    expect(processor.stats()).toEqual({ queued: 0, exported: 10, dropped: 0, failed: 0 });
  });

  it('drops past the bound while the destination hangs, warns once per interval, and recovers', async () => {
    const warnings: string[] = [];
    const exporter = new Flaky();
    let release = (): void => undefined;
    exporter.hold = new Promise<void>((resolve) => (release = resolve));
    const processor = new BoundedExportProcessor(exporter, { maxSpans: 5, batchSize: 5, delayMs: 1 }, (m) =>
      warnings.push(m),
    );
    // 5 go out in the first (hung) batch, 5 wait in the queue, the other 20 are dropped.
    spans(processor, 30);
    expect(processor.stats()).toMatchObject({ queued: 5, dropped: 20 });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('1 spans were dropped');
    exporter.up = true;
    release();
    exporter.hold = undefined;
    await processor.forceFlush();
    expect(processor.stats()).toEqual({ queued: 0, exported: 10, dropped: 20, failed: 0 });
    expect(exporter.received).toHaveLength(10);
  });

  it('counts a failing export as failed, not exported', async () => {
    const processor = new BoundedExportProcessor(new Flaky(), { batchSize: 2, delayMs: 1 }, () => undefined);
    spans(processor, 3);
    await processor.forceFlush();
    expect(processor.stats()).toEqual({ queued: 0, exported: 0, dropped: 0, failed: 3 });
  });
});
