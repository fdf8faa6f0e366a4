import { randomUUID } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { AispmError, describeError } from '@aispm/core';
import type { Backlog, StoredTopicSpec } from './bus.ts';
import type { StoredRecord } from './memory-partition.ts';

/**
 * The SQL of the SQLite bus: one database file holding every topic's records, the
 * topics and the consumer groups' committed offsets. Records live in one table keyed
 * (topic, partition, offset) WITHOUT ROWID, so a partition is one contiguous range of
 * the b-tree: appends go to its end and a consumer's read is one range scan. Pages are
 * 16 KiB so that records of a few KiB stay inside the b-tree instead of spilling a
 * mostly empty overflow page each (4 KiB pages quadrupled the file for 1 KB records).
 */
const SCHEMA_VERSION = '1';
const PAGE_SIZE = 16_384;
/** The checkpointer normally keeps the WAL far below this; past it a commit checkpoints inline. */
const WAL_AUTOCHECKPOINT_PAGES = 4096;
const JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024;
const CACHE_KIB = 16_384;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS topics (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  partitions INTEGER NOT NULL,
  compacted INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
  topic_id INTEGER NOT NULL,
  part INTEGER NOT NULL,
  off INTEGER NOT NULL,
  key TEXT NOT NULL,
  value BLOB NOT NULL,
  headers TEXT,
  ts INTEGER NOT NULL,
  PRIMARY KEY (topic_id, part, off)
) WITHOUT ROWID;
-- The offset the next record of a partition gets, written when a trim may have deleted its newest rows.
CREATE TABLE IF NOT EXISTS log_ends (
  topic_id INTEGER NOT NULL,
  part INTEGER NOT NULL,
  next_off INTEGER NOT NULL,
  PRIMARY KEY (topic_id, part)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS commits (
  topic_id INTEGER NOT NULL,
  grp TEXT NOT NULL,
  part INTEGER NOT NULL,
  next_off INTEGER NOT NULL,
  PRIMARY KEY (topic_id, grp, part)
) WITHOUT ROWID;
`;

export interface StoredTopic {
  id: number;
  spec: StoredTopicSpec;
}

export interface StoredCommit {
  topicId: number;
  group: string;
  partition: number;
  next: number;
}

export type Durability = 'normal' | 'full';

export class SqliteLog {
  readonly file: string;
  readonly logId: string;
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #read: StatementSync;
  readonly #commit: StatementSync;
  readonly #count: StatementSync;
  readonly #trimRange: StatementSync;
  readonly #trimCompacted: StatementSync;
  readonly #firstOffset: StatementSync;
  readonly #saveEnd: StatementSync;
  #closed = false;

  /** Opens (creating when missing) `<folder>/bus.sqlite`; the folder is made 0700 and the file 0600. */
  constructor(folder: string, durability: Durability) {
    this.file = join(folder, 'bus.sqlite');
    try {
      mkdirSync(folder, { recursive: true, mode: 0o700 });
      // SQLite gives the -wal and -shm files the mode of the database file.
      closeSync(openSync(this.file, 'a', 0o600));
      chmodSync(this.file, 0o600);
      this.#db = new DatabaseSync(this.file, { timeout: 5000 });
    } catch (err) {
      throw new AispmError(
        'bus_open_failed',
        `opening the bus database ${this.file} failed: ${describeError(err)}; check that the folder is writable ` +
          'by this user and that the disk has space',
        { cause: err },
      );
    }
    const db = this.#db;
    try {
      // page_size takes effect only on a new database, before its first table.
      db.exec(`PRAGMA page_size = ${PAGE_SIZE}`);
      const mode = db.prepare('PRAGMA journal_mode = WAL').get()?.journal_mode;
      if (mode !== 'wal') throw new Error(`journal_mode is ${String(mode)}, not wal`);
      db.exec(`PRAGMA synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
      db.exec(`PRAGMA wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
      db.exec(`PRAGMA journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
      db.exec(`PRAGMA cache_size = -${CACHE_KIB}`);
      db.exec('BEGIN IMMEDIATE');
      db.exec(SCHEMA);
      const version = db.prepare("SELECT value FROM meta WHERE name = 'schema'").get()?.value;
      if (version !== undefined && version !== SCHEMA_VERSION) {
        throw new Error(`the file has schema version ${String(version)}; this aispm reads version ${SCHEMA_VERSION}`);
      }
      const setMeta = db.prepare('INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)');
      setMeta.run('schema', SCHEMA_VERSION);
      setMeta.run('log_id', `sqlite:${randomUUID()}`);
      this.logId = String(db.prepare("SELECT value FROM meta WHERE name = 'log_id'").get()!.value);
      db.exec('COMMIT');
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK');
      db.close();
      throw new AispmError(
        'bus_open_failed',
        `opening the bus database ${this.file} failed: ${describeError(err)}; if the file is not an aispm bus ` +
          'database, move it away',
        { cause: err },
      );
    }
    this.#insert = db.prepare(
      'INSERT INTO records (topic_id, part, off, key, value, headers, ts) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.#read = db.prepare(
      'SELECT off, key, value, headers, ts FROM records WHERE topic_id = ? AND part = ? AND off >= ? ORDER BY off LIMIT ?',
    );
    this.#read.setReturnArrays(true);
    this.#commit = db.prepare(
      'INSERT INTO commits (topic_id, grp, part, next_off) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (topic_id, grp, part) DO UPDATE SET next_off = excluded.next_off',
    );
    this.#count = db.prepare(
      'SELECT count(*) AS records, coalesce(sum(length(value)), 0) AS bytes FROM records ' +
        'WHERE topic_id = ? AND part = ? AND off >= ?',
    );
    this.#trimRange = db.prepare('DELETE FROM records WHERE topic_id = ? AND part = ? AND off < ?');
    this.#trimCompacted = db.prepare(
      'DELETE FROM records WHERE topic_id = ? AND part = ? AND off < ? ' +
        'AND off NOT IN (SELECT value FROM json_each(?))',
    );
    this.#firstOffset = db.prepare('SELECT min(off) AS off FROM records WHERE topic_id = ? AND part = ?');
    this.#saveEnd = db.prepare(
      'INSERT INTO log_ends (topic_id, part, next_off) VALUES (?, ?, ?) ' +
        'ON CONFLICT (topic_id, part) DO UPDATE SET next_off = excluded.next_off',
    );
  }

  topics(): StoredTopic[] {
    return this.#db
      .prepare('SELECT id, name, partitions, compacted FROM topics ORDER BY id')
      .all()
      .map((row) => ({
        id: Number(row.id),
        spec: { topic: String(row.name), partitions: Number(row.partitions), compacted: row.compacted === 1 },
      }));
  }

  createTopic(spec: StoredTopicSpec): number {
    const row = this.#db
      .prepare('INSERT INTO topics (name, partitions, compacted) VALUES (?, ?, ?) RETURNING id')
      .get(spec.topic, spec.partitions, spec.compacted ? 1 : 0);
    return Number(row!.id);
  }

  commits(): StoredCommit[] {
    return this.#db
      .prepare('SELECT topic_id, grp, part, next_off FROM commits')
      .all()
      .map((row) => ({
        topicId: Number(row.topic_id),
        group: String(row.grp),
        partition: Number(row.part),
        next: Number(row.next_off),
      }));
  }

  /** The lowest offset held and the offset the next record gets. */
  bounds(topicId: number, partition: number): { start: number; end: number } {
    const row = this.#db
      .prepare('SELECT min(off) AS first, max(off) AS last FROM records WHERE topic_id = ? AND part = ?')
      .get(topicId, partition)!;
    const saved = this.#db
      .prepare('SELECT next_off FROM log_ends WHERE topic_id = ? AND part = ?')
      .get(topicId, partition)?.next_off;
    const end = Math.max(row.last === null ? 0 : Number(row.last) + 1, saved === undefined ? 0 : Number(saved));
    return { start: row.first === null ? end : Number(row.first), end };
  }

  /** Each key's newest offset, for a compacted partition. */
  newestPerKey(topicId: number, partition: number): Map<string, number> {
    const rows = this.#db
      .prepare('SELECT key, max(off) AS off FROM records WHERE topic_id = ? AND part = ? GROUP BY key')
      .all(topicId, partition);
    return new Map(rows.map((row) => [String(row.key), Number(row.off)]));
  }

  /** Runs `fn` in one write transaction: all of it is committed, or none. */
  transaction(fn: () => void): void {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      fn();
      this.#db.exec('COMMIT');
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw err;
    }
  }

  insert(
    topicId: number,
    partition: number,
    offset: number,
    key: string,
    value: Buffer,
    headers: string | null,
    timestamp: number,
  ): void {
    this.#insert.run(topicId, partition, offset, key, value, headers, timestamp);
  }

  /** Up to `max` records of a partition from offset `from` on, in offset order. */
  read(topicId: number, partition: number, from: number, max: number): StoredRecord[] {
    const rows = this.#read.all(topicId, partition, from, max) as unknown as [
      number,
      string,
      Uint8Array,
      string | null,
      number,
    ][];
    return rows.map(([offset, key, value, headers, timestamp]) => ({
      offset,
      key,
      // The row's bytes are its own: wrap them rather than copy.
      value: Buffer.from(value.buffer, value.byteOffset, value.byteLength),
      headers: headers === null ? {} : (JSON.parse(headers) as Record<string, string>),
      timestamp,
    }));
  }

  /** Records of a partition from `from` on and the bytes of their values. */
  countFrom(topicId: number, partition: number, from: number): Backlog {
    const row = this.#count.get(topicId, partition, from)!;
    return { records: Number(row.records), bytes: Number(row.bytes) };
  }

  commit(topicId: number, group: string, partition: number, next: number): void {
    this.#commit.run(topicId, group, partition, next);
  }

  /**
   * Deletes the records of a partition below `below`, except those at `keep` (a compacted
   * partition's newest per key), remembering `end` so that the offsets go on from there
   * even when nothing is left; returns the lowest offset left.
   */
  trim(topicId: number, partition: number, below: number, end: number, keep: readonly number[] | undefined): number {
    this.transaction(() => {
      if (keep) this.#trimCompacted.run(topicId, partition, below, JSON.stringify(keep));
      else this.#trimRange.run(topicId, partition, below);
      this.#saveEnd.run(topicId, partition, end);
    });
    const first = this.#firstOffset.get(topicId, partition)?.off;
    return first === null || first === undefined ? end : Number(first);
  }

  /** Checkpoints the whole WAL into the database file, truncates the WAL, and closes. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    } finally {
      this.#db.close();
    }
  }
}
