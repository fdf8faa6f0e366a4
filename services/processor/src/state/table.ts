import { clickhouseTime, type Store } from '@aispm/store';
import type { StateBackend } from './backend.ts';
import type { Checkpoint } from './checkpoint.ts';
import { cutKey } from './cuts.ts';

/** Where embedded mode records the processor's cuts (schemas/clickhouse/016_processor_cuts.sql). */
const CUTS_TABLE = 'processor_cuts';

interface StateRow {
  key: string;
  partition: number;
  log: string;
  offset: string;
  snapshot: string;
  [column: string]: unknown;
}

/**
 * Checkpoints in the store's processor_state table (schemas/clickhouse/003_processor_state.sql,
 * 006_processor_state_topic_ttl.sql), for embedded mode, where no Kafka changelog
 * exists. The agents and entities stages share the table: rows carry the topic
 * whose consumer saved them, part of the table's key, so each stage loads only its
 * own and the two never replace each other's rows (rows from before 006 have no
 * topic; their log id ends with it). An empty snapshot deletes the key's state
 * (an entity evicted as idle); rows go 30 days after they were saved (TTL).
 * The partitions' cuts (cuts.ts) go to a table of their own, processor_cuts: every
 * processor_state key starts with its tenant, and a cut is no tenant's.
 */
export class StoreStateTable implements StateBackend {
  private readonly store: Store;
  /** saved_at must grow per key even when two saves land in one millisecond. */
  private lastMicros = 0;
  private readonly topic: string;

  /** `topic`: the topic whose consumer's checkpoints these are. */
  constructor(store: Store, topic: string) {
    this.store = store;
    this.topic = topic;
  }

  async save(checkpoints: readonly Checkpoint[]): Promise<void> {
    if (checkpoints.length === 0) return;
    const micros = Math.max(Date.now() * 1000, this.lastMicros + 1);
    this.lastMicros = micros;
    await this.store.insert(
      'processor_state',
      checkpoints.map((c) => ({
        topic: this.topic,
        key: c.key,
        partition: c.partition,
        log: c.log,
        offset: c.offset,
        snapshot: c.snapshot.toString('base64'),
        saved_at: clickhouseTime(micros),
      })),
    );
  }

  /** A partition's cuts go to the processor_cuts table (016_processor_cuts.sql): they are no tenant's state. */
  async saveCuts(cuts: Checkpoint): Promise<void> {
    const micros = Math.max(Date.now() * 1000, this.lastMicros + 1);
    this.lastMicros = micros;
    await this.store.insert(CUTS_TABLE, [
      {
        topic: this.topic,
        partition: cuts.partition,
        log: cuts.log,
        cuts: cuts.snapshot.toString('utf8'),
        saved_at: clickhouseTime(micros),
      },
    ]);
  }

  async loadWithCuts(partitions: readonly number[]): Promise<{ checkpoints: Checkpoint[]; cuts: Checkpoint[] }> {
    const [checkpoints, cuts] = await Promise.all([this.load(partitions), this.loadCuts(partitions)]);
    return { checkpoints, cuts };
  }

  private async loadCuts(partitions: readonly number[]): Promise<Checkpoint[]> {
    if (partitions.length === 0) return [];
    const rows = await this.store.query<{ partition: number; log: string; cuts: string }>(
      `SELECT partition, argMax(log, saved_at) AS log, argMax(cuts, saved_at) AS cuts FROM ${CUTS_TABLE}
       WHERE topic = {topic:String} AND partition IN {partitions:Array(UInt32)} GROUP BY partition`,
      { partitions: [...partitions], topic: this.topic },
    );
    return rows.map((row) => ({
      key: cutKey(Number(row.partition)),
      partition: Number(row.partition),
      log: row.log,
      offset: '',
      snapshot: Buffer.from(row.cuts, 'utf8'),
    }));
  }

  async load(partitions: readonly number[]): Promise<Checkpoint[]> {
    if (partitions.length === 0) return [];
    const rows = await this.store.query<StateRow>(
      `SELECT key, argMax(partition, saved_at) AS partition, argMax(log, saved_at) AS log,
              argMax(offset, saved_at) AS offset, argMax(snapshot, saved_at) AS snapshot
       FROM (SELECT * FROM processor_state
             WHERE topic = {topic:String} OR (topic = '' AND endsWith(log, {suffix:String})))
       GROUP BY key HAVING partition IN {partitions:Array(UInt32)} AND snapshot != ''`,
      { partitions: [...partitions], topic: this.topic, suffix: `:${this.topic}` },
    );
    return rows.map((row) => ({
      key: row.key,
      partition: Number(row.partition),
      log: row.log,
      offset: row.offset,
      snapshot: Buffer.from(row.snapshot, 'base64'),
    }));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
