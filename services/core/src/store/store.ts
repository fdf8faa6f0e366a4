/**
 * The Store contract: what the pipeline needs from ClickHouse. chdb (the engine
 * in-process) and a ClickHouse server behind @clickhouse/client implement it; the
 * SQL is the same for both. `store.contract.ts` holds the tests both must pass.
 */
export type Row = Record<string, unknown>;

/** Named parameters for `{name:Type}` placeholders; values never enter the SQL text. */
export type QueryParams = Record<string, unknown>;

export interface Store {
  readonly kind: 'chdb' | 'clickhouse';
  /** Runs a statement that returns no rows (DDL, INSERT … SELECT, OPTIMIZE). */
  command(sql: string, params?: QueryParams): Promise<void>;
  /** Runs a query and returns its rows as objects (64-bit integers as strings, as ClickHouse's JSON does). */
  query<T extends Row = Row>(sql: string, params?: QueryParams): Promise<T[]>;
  /** Inserts rows in one batch; resolves once they are written. */
  insert(table: string, rows: readonly Row[]): Promise<void>;
  close(): Promise<void>;
}
