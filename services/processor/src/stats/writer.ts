import { describeError, silentLogger, type Logger } from '@aispm/core';
import { clickhouseTime, dedupToken, type Row, type Store } from '@aispm/store';
import type { PipelineStats, StatsRow } from './collector.ts';

/** The table the writer fills (schemas/clickhouse/015_pipeline_stats.sql). */
export const PIPELINE_STATS_TABLE = 'pipeline_stats';

/** Intervals whose insert failed, kept to try again (with their token) at the next tick; older ones are let go. */
const MAX_PENDING = 20;

export interface StatsWriterOptions {
  store: Pick<Store, 'insert'>;
  stats: PipelineStats;
  /** AISPM_STATS_INTERVAL_S, in ms. */
  intervalMs: number;
  log?: Logger;
}

/** A stats row as the table takes it. */
export function statsRow(r: StatsRow): Row {
  return { ...r, time: clickhouseTime(r.time * 1000) };
}

/**
 * Writes the pipeline's stats to the store every intervalMs, and once more at stop.
 * Each interval is one insert whose deduplication token names the instance and the
 * interval: an insert retried after a failure that had in fact landed is dropped by
 * the engine, not counted twice. A failed interval is kept (at most MAX_PENDING) and
 * tried again at the next tick.
 */
export class StatsWriter {
  readonly #options: StatsWriterOptions;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | null = null;
  #pending: { rows: Row[]; token: string }[] = [];
  #running: Promise<void> = Promise.resolve();
  #written = 0;

  constructor(options: StatsWriterOptions) {
    if (!(options.intervalMs > 0)) throw new RangeError('StatsWriter intervalMs must be positive');
    this.#options = options;
    this.#log = options.log ?? silentLogger;
  }

  /** Rows written so far. */
  get written(): number {
    return this.#written;
  }

  start(): void {
    this.#timer = setInterval(() => void this.flush(), this.#options.intervalMs);
    this.#timer.unref();
  }

  /** Takes the interval's rows and writes them with any left from failed intervals; runs never overlap. */
  flush(): Promise<void> {
    const run = this.#running.then(() => this.#flush());
    this.#running = run.catch(() => undefined);
    return run;
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.flush();
  }

  async #flush(): Promise<void> {
    const { stats, store } = this.#options;
    const rows = stats.take().map(statsRow);
    if (rows.length > 0) {
      const content = rows.map((r) => JSON.stringify(r));
      this.#pending.push({
        rows,
        token: dedupToken([PIPELINE_STATS_TABLE, stats.instance, String(rows[0]!.time)], content),
      });
    }
    if (this.#pending.length > MAX_PENDING) {
      const lost = this.#pending.splice(0, this.#pending.length - MAX_PENDING);
      this.#log.warn('pipeline stats of older intervals not written: the store kept refusing them', {
        intervals: lost.length,
      });
    }
    while (this.#pending.length > 0) {
      const next = this.#pending[0]!;
      try {
        await store.insert(PIPELINE_STATS_TABLE, next.rows, { dedupToken: next.token });
      } catch (err) {
        this.#log.warn('pipeline stats not written; trying again at the next interval', { error: describeError(err) });
        return;
      }
      this.#pending.shift();
      this.#written += next.rows.length;
    }
  }
}
