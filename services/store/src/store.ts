/**
 * The Store contract: what the pipeline needs from ClickHouse. chdb (the engine
 * in-process) and a ClickHouse server behind @clickhouse/client implement it; the
 * SQL is the same for both. `store.contract.ts` holds the tests both must pass.
 */
export type Row = Record<string, unknown>;

/** Named parameters for `{name:Type}` placeholders; values never enter the SQL text. */
export type QueryParams = Record<string, unknown>;

/**
 * How a table's columns are computed from Avro records, for Store.insertAvro: the
 * engine decodes the records itself, so no row is built or serialized in JS.
 */
export interface AvroColumns {
  /** The record fields the columns read, as ClickHouse types: `name Type, …` (other fields are skipped). */
  structure: string;
  /** Each column written, with its expression over those fields. */
  columns: Readonly<Record<string, string>>;
}

/** Avro records of one writer schema. */
export interface AvroRecords {
  /** The writer schema, JSON text (logical types kept: a timestamp-micros long reads as DateTime64(6)). */
  schema: string;
  /** The records' Avro binary bodies (no single-object header). */
  bodies: readonly Uint8Array[];
}

/** How an insert is written. */
export interface InsertOptions {
  /**
   * Makes the insert exactly-once: a later insert into the same table with the same
   * token is dropped by the engine (insert_deduplication_token), and so are the rows
   * it would have sent through the table's materialized views. Give it a value
   * derived from where the rows came from (topic, partition, offset range), so a
   * replay of the same batch carries the same token. Holds for tables with a
   * deduplication window (non_replicated_deduplication_window, migration 013) and
   * within that many recent inserts. Without a token the insert is never dropped as
   * a duplicate (insert_deduplicate = 0), however alike two inserts are.
   */
  dedupToken?: string;
}

/** What StoreReader.query runs a statement with. */
export interface RawQueryOptions {
  /** The output format when the statement names none (`FORMAT …` in the statement wins), e.g. 'TabSeparated', 'Native'. */
  format: string;
  /** Values for `{name:Type}` placeholders, in ClickHouse's text form (as the HTTP interface's `param_name`). */
  params?: Readonly<Record<string, string>>;
  /**
   * Settings for this statement. On chdb they are SET on the reader's connection
   * just before it, so a later statement on the same reader sees them too unless
   * it gives its own value: pass every setting the caller manages, every time.
   */
  settings?: Readonly<Record<string, string | number>>;
}

/** A statement's result: the engine's bytes in the output format, and what it read. */
export interface RawResult {
  bytes: Uint8Array;
  rowsRead: number;
  bytesRead: number;
  /** Seconds the engine took. */
  elapsed: number;
}

/**
 * A read-only connection to the store's engine (readonly=2: no writes, no DDL;
 * settings may change), for serving queries written by others. Statements run
 * one at a time, in order; the store's close() waits for them.
 */
export interface StoreReader {
  query(sql: string, options: RawQueryOptions): Promise<RawResult>;
  /** Waits for the statements queued on this reader, then releases its connection. Idempotent. */
  close(): Promise<void>;
}

export interface Store {
  readonly kind: 'chdb' | 'clickhouse';
  /** The database the store works in (the current database of its connections and readers). */
  readonly database: string;
  /** Runs a statement that returns no rows (DDL, INSERT … SELECT, OPTIMIZE). */
  command(sql: string, params?: QueryParams): Promise<void>;
  /** Runs a query and returns its rows as objects (64-bit integers as strings, as ClickHouse's JSON does). */
  query<T extends Row = Row>(sql: string, params?: QueryParams): Promise<T[]>;
  /** Inserts rows in one batch; resolves once they are written. */
  insert(table: string, rows: readonly Row[], options?: InsertOptions): Promise<void>;
  /**
   * Inserts Avro records in one batch, the engine reading their fields as `mapping`
   * says; resolves once they are written. For records already encoded (an event as
   * it came off the topic, a score as it goes to one), this spares a row object and
   * its JSON per record, and the engine parses binary instead of text.
   */
  insertAvro(table: string, mapping: AvroColumns, records: AvroRecords, options?: InsertOptions): Promise<void>;
  /**
   * Opens a read-only connection that returns raw bytes in any output format
   * (Native, RowBinaryWithNamesAndTypes, JSON…), with the engine's defaults rather
   * than the pinned settings of query(). It shares the store's engine: on chdb, a
   * connection of its own on the same data folder, closed by the store's close().
   */
  reader(): StoreReader;
  close(): Promise<void>;
}
