import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import type { Bus, OutgoingRecord, SubscribeOptions, Subscription, TopicSpec } from '@aispm/bus';
import type { BatchContext, PipelineStats } from './collector.ts';

/**
 * A Bus that tells PipelineStats what the stages do, without the stages knowing:
 * each batch of a stage's subscription is handled inside a context naming its stage
 * and partition, so the records published while handling it (outputs, dead letters)
 * are credited to it, and so is the batch itself, with its time in the handler, once
 * it resolves (a batch that throws is delivered again and counted then). Anything
 * else (subscriptions of other groups, publishes outside a batch, such as the
 * gateway's) passes through untouched.
 */
export class MeteredBus implements Bus {
  readonly #inner: Bus;
  readonly #stats: PipelineStats;
  readonly #context = new AsyncLocalStorage<BatchContext>();
  readonly backlog?: Bus['backlog'];

  constructor(inner: Bus, stats: PipelineStats) {
    this.#inner = inner;
    this.#stats = stats;
    if (inner.backlog) this.backlog = (topic, group) => inner.backlog!(topic, group);
  }

  get kind(): Bus['kind'] {
    return this.#inner.kind;
  }

  get logId(): string | undefined {
    return this.#inner.logId;
  }

  ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    return this.#inner.ensureTopics(specs);
  }

  publish(topic: string, records: readonly OutgoingRecord[]): Promise<void> {
    const ctx = this.#context.getStore();
    if (ctx && records.length > 0) this.#stats.published(ctx, topic, records.length);
    return this.#inner.publish(topic, records);
  }

  subscribe(options: SubscribeOptions): Promise<Subscription> {
    const stage = this.#stats.stageOf(options.topic, options.group);
    if (!stage) return this.#inner.subscribe(options);
    const { handler } = options;
    return this.#inner.subscribe({
      ...options,
      handler: (batch) => {
        const ctx: BatchContext = { stage, partition: batch.partition };
        return this.#context.run(ctx, async () => {
          const started = performance.now();
          await handler(batch);
          this.#stats.batch(ctx, batch.records.length, performance.now() - started);
        });
      },
    });
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
