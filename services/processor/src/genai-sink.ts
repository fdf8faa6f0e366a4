import {
  createGenAiLogCodec,
  createGenAiMetricCodec,
  describeError,
  type AvroCodec,
  type GenAiLogEvent,
  type GenAiMetricPoint,
  type Logger,
  consumerGroups,
} from '@aispm/core';
import type { Batch, Bus, Subscription } from '@aispm/bus';
import {
  clickhouseTime,
  dedupToken as storeToken,
  insertResilient,
  type ResilientInsertOptions,
  type Row,
  type Store,
} from '@aispm/store';
import { storeDeadLetter, STORE_REJECTED } from './dead-letter.ts';

/** Tables of schemas/clickhouse/007_genai_logs_metrics.sql. */
export const GENAI_LOGS_TABLE = 'genai_log_events';
export const GENAI_METRICS_TABLE = 'genai_metrics';

export interface GenAiSinkOptions {
  bus: Bus;
  store: Store;
  /** The topics consumed, and where the records of rows the store refuses for good go. */
  topics: { genaiLogs: string; genaiMetrics: string; deadLetter: string };
  /** AISPM_PROCESSOR_GROUP; the sink's groups are `<group>.genai-logs` and `<group>.genai-metrics`. */
  group: string;
  log: Logger;
  maxBatchSize?: number;
  /** How inserts retry a retryable failure (default DEFAULT_STORE_RETRY of @aispm/store). */
  resilience?: ResilientInsertOptions;
}

export interface GenAiSinkStats {
  logs: number;
  metrics: number;
  /** Records that were not a known Avro record: logged and skipped, never blocking the partition. */
  undecodable: number;
  /** Records whose row the store refused for good: sent to the dead-letter topic, the batch went on. */
  deadLettered: number;
}

/**
 * Stores what the gateway published from /v1/logs and /v1/metrics: GenAI log events into
 * genai_log_events and histogram points into genai_metrics, one insert per batch, the
 * batch committed only after its insert resolved (at-least-once). Replays are harmless:
 * a replayed record makes a row identical to the first (its key holds log_id / point_id,
 * computed from the record), which ReplacingMergeTree folds into one (read with FINAL).
 */
export class GenAiSink {
  readonly #options: GenAiSinkOptions;
  readonly #logCodec: AvroCodec<GenAiLogEvent> = createGenAiLogCodec();
  readonly #metricCodec: AvroCodec<GenAiMetricPoint> = createGenAiMetricCodec();
  #subscriptions: Subscription[] = [];
  readonly stats: GenAiSinkStats = { logs: 0, metrics: 0, undecodable: 0, deadLettered: 0 };

  constructor(options: GenAiSinkOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    const { bus, topics, group, maxBatchSize } = this.#options;
    const groups = consumerGroups(group);
    this.#subscriptions.push(
      await bus.subscribe({
        topic: topics.genaiLogs,
        group: groups.genaiLogs,
        maxBatchSize,
        handler: (batch) => this.#store(batch, this.#logCodec, GENAI_LOGS_TABLE, logRow, 'logs'),
      }),
    );
    this.#subscriptions.push(
      await bus.subscribe({
        topic: topics.genaiMetrics,
        group: groups.genaiMetrics,
        maxBatchSize,
        handler: (batch) => this.#store(batch, this.#metricCodec, GENAI_METRICS_TABLE, metricRow, 'metrics'),
      }),
    );
  }

  /** Lets the batches in flight finish and commit, then leaves the groups. */
  async stop(): Promise<void> {
    const subscriptions = this.#subscriptions.splice(0);
    await Promise.all(subscriptions.map((s) => s.stop()));
  }

  async #store<T>(
    batch: Batch,
    codec: AvroCodec<T>,
    table: string,
    row: (value: T) => Row,
    kind: 'logs' | 'metrics',
  ): Promise<void> {
    const rows: { record: (typeof batch.records)[number]; row: Row }[] = [];
    for (const record of batch.records) {
      try {
        rows.push({ record, row: row(codec.decode(record.value)) });
      } catch (err) {
        this.stats.undecodable++;
        this.#options.log.warn(`genai sink: skipped a record of ${batch.topic} that is not a known Avro record`, {
          partition: batch.partition,
          offset: record.offset,
          error: describeError(err),
        });
      }
    }
    // A retryable failure is tried again, then thrown: the batch stays uncommitted and comes again, and its insert
    // carries the same token (the records' offsets are the rows'), so the engine drops it if the first one was
    // written after all. Rows the store refuses go to the dead-letter topic as the records they came from.
    const first = batch.records[0]?.offset;
    const last = batch.records.at(-1)?.offset;
    const dedupToken = storeToken(
      ['genai', batch.topic, batch.partition, `${first}-${last}`, table],
      batch.records.map((r) => r.offset),
    );
    const { store, bus, topics, log } = this.#options;
    const refused = await insertResilient(
      rows,
      dedupToken,
      (some, token) =>
        store.insert(
          table,
          some.map((r) => r.row),
          { dedupToken: token },
        ),
      this.#options.resilience,
    );
    if (refused.length > 0) {
      await bus.publish(
        topics.deadLetter,
        refused.map(({ item: { record }, error }) => {
          const dead = storeDeadLetter(record.key, record.value, table, error, record);
          return { ...dead, headers: { ...record.headers, ...dead.headers } };
        }),
      );
      this.stats.deadLettered += refused.length;
      log.warn(`genai sink: rows the store refused sent to ${topics.deadLetter}`, {
        code: STORE_REJECTED,
        table,
        rows: refused.length,
        reason: refused[0]!.error.message,
      });
    }
    this.stats[kind] += rows.length - refused.length;
  }
}

export function logRow(e: GenAiLogEvent): Row {
  return {
    tenant: e.tenant,
    trace_id: e.trace_id,
    span_id: e.span_id,
    time: clickhouseTime(e.time),
    log_id: e.log_id,
    app: e.app,
    event_name: e.event_name,
    role: e.role ?? '',
    content_policy: e.content_policy,
    content: e.content,
    detected: e.detected,
  };
}

export function metricRow(p: GenAiMetricPoint): Row {
  return {
    tenant: p.tenant,
    metric: p.metric,
    time: clickhouseTime(p.time),
    start_time: clickhouseTime(p.start_time),
    point_id: p.point_id,
    unit: p.unit,
    temporality: p.temporality,
    app: p.app,
    operation: p.operation,
    provider: p.provider,
    request_model: p.request_model,
    response_model: p.response_model,
    token_type: p.token_type,
    error_type: p.error_type,
    attributes: p.attributes,
    count: p.count,
    sum: p.sum,
    min: p.min,
    max: p.max,
    bounds: p.bounds,
    bucket_counts: p.bucket_counts,
  };
}
