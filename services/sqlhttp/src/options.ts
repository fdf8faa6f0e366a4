import { ConfigError, type Logger } from '@aispm/core';
import type { Store } from '@aispm/store';
import { OPERATOR_KEYS_ENV, OPERATOR_USER, type OperatorKeys, type ReadKeys } from './keys.ts';

export interface SqlEndpointOptions {
  /** The store whose engine serves the queries (its database is what tenants read). */
  store: Store;
  /** Who may read, and which tenant's rows each key sees. */
  keys: ReadKeys;
  /** The operator's keys (user `operator`): the pipeline's own tables, no tenant's rows; none by default (AISPM_SQL_OPERATOR_KEYS). */
  operatorKeys?: OperatorKeys | null;
  /** Address to listen on; loopback by default (AISPM_SQL_HOST). */
  host?: string;
  /** Port; ClickHouse's HTTP port by default, 0 for any free one (AISPM_SQL_PORT). */
  port?: number;
  /** Queries run at once, each on a read-only connection of its own (AISPM_SQL_MAX_CONCURRENT). */
  maxConcurrent?: number;
  /** Queries waiting for a connection beyond those; more are refused (AISPM_SQL_MAX_QUEUED). */
  maxQueued?: number;
  /** Largest query text, after decompression (AISPM_SQL_MAX_QUERY_BYTES); ClickHouse's max_query_size by default. */
  maxQueryBytes?: number;
  /** The engine stops a query after this long; a client may ask for less, never more (AISPM_SQL_MAX_EXECUTION_SECONDS). */
  maxExecutionSeconds?: number;
  /** Largest result, uncompressed, in the engine's in-memory measure; a client may ask for less (AISPM_SQL_MAX_RESULT_BYTES). */
  maxResultBytes?: number;
  /** Memory one query may use (AISPM_SQL_MAX_MEMORY_BYTES). */
  maxMemoryBytes?: number;
  /** Guard verdicts remembered, per principal and query text; 0: every query is parsed and checked (AISPM_SQL_GUARD_CACHE_ENTRIES). */
  guardCacheEntries?: number;
  /** How long the store's table list is trusted before it is read again; 0: read for every query (AISPM_SQL_SCHEMA_CACHE_MS). */
  schemaCacheMs?: number;
  log?: Logger;
}

export type SqlEndpointConfig = Required<Omit<SqlEndpointOptions, 'log'>> & Pick<SqlEndpointOptions, 'log'>;

export const SQL_ENDPOINT_DEFAULTS = {
  host: '127.0.0.1',
  port: 8123,
  maxConcurrent: 2,
  maxQueued: 64,
  maxQueryBytes: 262_144,
  maxExecutionSeconds: 30,
  maxResultBytes: 256 * 1024 * 1024,
  maxMemoryBytes: 2 * 1024 * 1024 * 1024,
  operatorKeys: null,
  guardCacheEntries: 1024,
  schemaCacheMs: 2000,
} as const;

/** The options with every default filled in, checked once. */
export function sqlEndpointConfig(options: SqlEndpointOptions): SqlEndpointConfig {
  const config: SqlEndpointConfig = { ...SQL_ENDPOINT_DEFAULTS, ...definedOnly(options) } as SqlEndpointConfig;
  const whole = (name: Exclude<keyof typeof SQL_ENDPOINT_DEFAULTS, 'operatorKeys'>, env: string, min: number): void => {
    const value = config[name];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
      throw new ConfigError(env, `is ${String(value)}; expected a whole number of at least ${min}`);
    }
  };
  whole('port', 'AISPM_SQL_PORT', 0);
  if (config.port > 65535) throw new ConfigError('AISPM_SQL_PORT', `is ${config.port}; expected 0-65535`);
  whole('maxConcurrent', 'AISPM_SQL_MAX_CONCURRENT', 1);
  whole('maxQueued', 'AISPM_SQL_MAX_QUEUED', 0);
  whole('maxQueryBytes', 'AISPM_SQL_MAX_QUERY_BYTES', 64);
  whole('maxExecutionSeconds', 'AISPM_SQL_MAX_EXECUTION_SECONDS', 1);
  whole('maxResultBytes', 'AISPM_SQL_MAX_RESULT_BYTES', 1024);
  whole('maxMemoryBytes', 'AISPM_SQL_MAX_MEMORY_BYTES', 1024 * 1024);
  whole('guardCacheEntries', 'AISPM_SQL_GUARD_CACHE_ENTRIES', 0);
  whole('schemaCacheMs', 'AISPM_SQL_SCHEMA_CACHE_MS', 0);
  if (config.operatorKeys !== null && config.keys.tenants.includes(OPERATOR_USER)) {
    throw new ConfigError(
      OPERATOR_KEYS_ENV,
      `is set while AISPM_SQL_KEYS has a tenant named "${OPERATOR_USER}", the operator's user name; give that tenant's read keys up or leave ${OPERATOR_KEYS_ENV} unset`,
    );
  }
  return config;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
