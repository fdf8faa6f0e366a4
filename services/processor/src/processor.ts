import {
  InvalidRecordError,
  createEventCodec,
  eventKey,
  eventRow,
  invalidReason,
  silentLogger,
  type AiEvent,
  type Batch,
  type Bus,
  type Config,
  type Logger,
  type OutgoingRecord,
  type Store,
  type Subscription,
} from '@aispm/core';
import type { BaselineOptions } from './baseline/agent.ts';
import { Scorer } from './scorer.ts';
import { createScoreCodec } from './score/score-codec.ts';
import { scoreRecord, scoreRow } from './sink.ts';
import type { Score } from './score/score.ts';

export interface ProcessorOptions {
  bus: Bus;
  store: Store;
  topics: Config['topics'];
  /** Consumer group; instances with the same group share the partitions. */
  group?: string;
  log?: Logger;
  baseline?: Partial<BaselineOptions>;
  /** Clock for validating event times (tests pin it). */
  now?: () => number;
}

export interface ProcessorStats {
  /** Records taken off the events topic, valid or not. */
  received: number;
  /** Events stored and scored. */
  stored: number;
  /** Records sent to the dead-letter topic, by reason code. */
  deadLettered: Record<string, number>;
  /** Entities with a baseline in this process. */
  entities: number;
}

/**
 * The processor stage: events topic → decode and validate (dead-letter what
 * fails, with the reason) → score against per-entity baselines → store events
 * and scores → publish scores. A batch's offsets are committed by the bus only
 * after all of that is durable.
 */
export class Processor {
  private readonly codec = createEventCodec();
  private readonly scoreCodec = createScoreCodec();
  private readonly scorer: Scorer;
  private readonly log: Logger;
  private readonly now: () => number;
  private subscription: Subscription | null = null;
  private readonly counts = { received: 0, stored: 0, deadLettered: {} as Record<string, number> };

  private readonly options: ProcessorOptions;

  constructor(options: ProcessorOptions) {
    this.options = options;
    this.scorer = new Scorer(options.baseline);
    this.log = options.log ?? silentLogger;
    this.now = options.now ?? Date.now;
  }

  async start(): Promise<void> {
    this.subscription = await this.options.bus.subscribe({
      topic: this.options.topics.events,
      group: this.options.group ?? 'aispm-processor',
      handler: (batch) => this.handle(batch),
    });
  }

  /** Finishes the batch in flight, commits it and leaves the group. */
  async stop(): Promise<void> {
    await this.subscription?.stop();
    this.subscription = null;
  }

  stats(): ProcessorStats {
    return { ...this.counts, deadLettered: { ...this.counts.deadLettered }, entities: this.scorer.entities };
  }

  private async handle(batch: Batch): Promise<void> {
    const events: AiEvent[] = [];
    const dead: OutgoingRecord[] = [];
    const nowMs = this.now();
    for (const record of batch.records) {
      try {
        const event = this.codec.decode(record.value);
        const reason = invalidReason(event, nowMs);
        if (reason) throw new InvalidRecordError('invalid_event', reason);
        events.push(event);
      } catch (err) {
        if (!(err instanceof InvalidRecordError)) throw err;
        dead.push({
          key: record.key,
          value: record.value,
          headers: {
            ...record.headers,
            'aispm.dlq.code': err.code,
            'aispm.dlq.reason': err.message,
            'aispm.dlq.source': `${record.topic}/${record.partition}/${record.offset}`,
          },
        });
      }
    }
    const scored: [AiEvent, Score][] = events.map((event) => [event, this.scorer.score(event)]);
    await this.persist(scored, dead);
    this.counts.received += batch.records.length;
    this.counts.stored += events.length;
    for (const record of dead) {
      const code = record.headers?.['aispm.dlq.code'] ?? 'unknown';
      this.counts.deadLettered[code] = (this.counts.deadLettered[code] ?? 0) + 1;
      this.log.warn('event dead-lettered', { code, reason: record.headers?.['aispm.dlq.reason'] });
    }
  }

  private async persist(scored: [AiEvent, Score][], dead: OutgoingRecord[]): Promise<void> {
    const { bus, store, topics } = this.options;
    if (scored.length > 0) {
      await store.insert(
        'events',
        scored.map(([event]) => eventRow(event)),
      );
      await store.insert(
        'anomaly_scores',
        scored.map(([event, score]) => scoreRow(event, score)),
      );
      await bus.publish(
        topics.scores,
        scored.map(([event, score]) => ({
          key: eventKey(event),
          value: this.scoreCodec.encode(scoreRecord(event, score)),
        })),
      );
    }
    if (dead.length > 0) await bus.publish(topics.deadLetter, dead);
  }
}
