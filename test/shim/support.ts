import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { register, type RegisterOptions, type Shim } from '@aispm/shim';

/**
 * register() for tests that read spans as they end: each finished span goes straight
 * to `memory` through a SimpleSpanProcessor, besides the shim's own queue and exporter
 * (an InMemorySpanExporter nobody reads). Warnings are dropped unless `warn` is given.
 */
export function recordingShim(options: Omit<RegisterOptions, 'exporter' | 'spanProcessors'>): {
  shim: Shim;
  memory: InMemorySpanExporter;
} {
  const memory = new InMemorySpanExporter();
  const shim = register({
    warn: () => undefined,
    ...options,
    exporter: { kind: 'custom', exporter: new InMemorySpanExporter() },
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  return { shim, memory };
}
