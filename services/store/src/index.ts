// @aispm/store: the Store contract and its implementations (embedded chdb, ClickHouse), and the migrations runner.
// Pipeline-only: never loaded into a customer's app.

export { ChdbStore, type ChdbStoreOptions } from './chdb.ts';
export { ClickHouseStore, type ClickHouseStoreOptions } from './clickhouse.ts';
export {
  migrate,
  MIGRATIONS_DIR,
  MIGRATION_DEFAULTS,
  type MigrationVariables,
  type MigrateOptions,
  type MigrationFile,
  type AppliedMigration,
  renderMigrations,
} from './migrate.ts';
export {
  renderForCluster,
  shardingKey,
  LOCAL_SUFFIX,
  type ClusterLayout,
  type Catalogue,
  type TableInfo,
} from './cluster.ts';
export { eventRow, clickhouseTime, EVENTS_FROM_AVRO, EVENTS_TABLE } from './event-row.ts';
export { StoreError } from './store-error.ts';
export { dedupSettings, dedupToken } from './dedup.ts';
export { failureKind, RETRYABLE_ENGINE_CODES, BLOCKED_ENGINE_CODES, type FailureKind } from './failure.ts';
export {
  insertResilient,
  partToken,
  retryDelay,
  DEFAULT_STORE_RETRY,
  type Refused,
  type ResilientInsertOptions,
  type StoreRetry,
} from './resilient-insert.ts';
export type {
  Store,
  StoreReader,
  RawQueryOptions,
  RawResult,
  Row,
  QueryParams,
  AvroColumns,
  AvroRecords,
  InsertOptions,
} from './store.ts';
