import { AispmError, describeError, type Config, type Logger } from '@aispm/core';
import { readTenants, type StoreQuery } from '@aispm/processor';
import type { QueryParams, Row, Store } from '@aispm/store';
import { openStore } from '../runtime.ts';

/**
 * Where `aispm inventory` and `aispm posture` read the store.
 *
 * Embedded mode keeps the store in a chdb folder that one process at a time can
 * open (chdb locks <data-dir>/chdb/status): while `aispm up` runs, another process
 * cannot open it. So, when AISPM_SQL_KEYS holds a tenant's key in plain form
 * (tenant:key) and the running instance's SQL endpoint answers at
 * http://AISPM_SQL_HOST:AISPM_SQL_PORT, the commands read through it, signed in as
 * each tenant (the endpoint shows a key its tenant's rows only). Otherwise they open
 * the store directly (applying pending migrations, as `aispm migrate` does); if a
 * running instance holds it, the error says what to do. In distributed mode they
 * read the ClickHouse server.
 */
export interface ReadSource {
  /** Tenants to report: the one asked for, else every tenant the source can read. */
  tenants(): Promise<string[]>;
  /** A query interface that reads this tenant's rows. */
  forTenant(tenant: string): StoreQuery;
  /** What is read, for messages: "the SQL endpoint at …", "chdb at …", "ClickHouse at …". */
  readonly via: string;
  close(): Promise<void>;
}

export interface ReadSourceOptions {
  /** Only this tenant. */
  tenant?: string;
  /** Milliseconds to wait for the SQL endpoint's /ping (default 1000). */
  pingTimeoutMs?: number;
}

export async function openReadSource(
  config: Config,
  log: Logger,
  options: ReadSourceOptions = {},
): Promise<ReadSource> {
  const embedded = config.mode === 'embedded' && config.store !== 'clickhouse';
  if (embedded && config.sql.keys !== null) {
    const keys = plainReadKeys(config.sql.keys);
    const url = `http://${connectHost(config.sql.host)}:${config.sql.port}`;
    if (keys.size > 0 && (await answers(url, options.pingTimeoutMs ?? 1000))) {
      return endpointSource(url, keys, config.clickhouse.database, options.tenant);
    }
  }
  let store: Store;
  try {
    store = await openStore(config, log);
  } catch (err) {
    if (embedded && (err as { code?: unknown }).code === 'store_open_failed') {
      throw new AispmError(
        'store_in_use',
        `cannot open the embedded store at ${config.dataDir}/chdb: ${describeError(err)}\n` +
          `If \`aispm up\` is running on this data folder it holds the store; either stop it and run this again, ` +
          `or read through its SQL endpoint: start it with AISPM_SQL_KEYS=<tenant>:<key> (a key of 16+ characters) ` +
          `and run this command with the same AISPM_SQL_KEYS (and AISPM_SQL_HOST/AISPM_SQL_PORT if changed), ` +
          `so it reads http://${connectHost(config.sql.host)}:${config.sql.port}.`,
        { cause: err },
      );
    }
    throw err;
  }
  return {
    via: store.kind === 'chdb' ? `chdb at ${config.dataDir}/chdb` : `ClickHouse at ${config.clickhouse.url}`,
    tenants: async () => (options.tenant === undefined ? readTenants(store) : [options.tenant]),
    forTenant: () => store,
    close: () => store.close(),
  };
}

/** The `tenant:key` entries given in plain form (digests, `tenant:sha256:<hex>`, cannot sign in). */
export function plainReadKeys(text: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const item of text.split(/[\n,]/)) {
    const entry = item.replace(/#.*/, '').trim();
    const colon = entry.indexOf(':');
    if (colon <= 0) continue;
    const tenant = entry.slice(0, colon);
    const key = entry.slice(colon + 1);
    if (key === '' || /^sha256:[0-9a-fA-F]{64}$/.test(key) || keys.has(tenant)) continue;
    keys.set(tenant, key);
  }
  return keys;
}

/** A wildcard listen address is reached on loopback. */
const connectHost = (host: string): string =>
  host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;

async function answers(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const response = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

function endpointSource(url: string, keys: Map<string, string>, database: string, tenant?: string): ReadSource {
  return {
    via: `the SQL endpoint at ${url}`,
    tenants: () => {
      if (tenant === undefined) return Promise.resolve([...keys.keys()].sort());
      if (!keys.has(tenant)) {
        return Promise.reject(
          new AispmError(
            'no_read_key',
            `AISPM_SQL_KEYS holds no plain key for tenant ${tenant}: the SQL endpoint at ${url} shows a key its own tenant's rows only; add ${tenant}:<key> (the same as the running instance has)`,
          ),
        );
      }
      return Promise.resolve([tenant]);
    },
    forTenant: (t) => endpointQuery(url, t, keys.get(t) ?? '', database),
    close: () => Promise.resolve(),
  };
}

/** Runs SELECTs on ClickHouse's HTTP interface as `user`, with `{name:Type}` parameters sent as param_<name>. */
export function endpointQuery(url: string, user: string, key: string, database: string): StoreQuery {
  return {
    async query<T extends Row = Row>(sql: string, params: QueryParams = {}): Promise<T[]> {
      const search = new URLSearchParams({ database, default_format: 'JSONEachRow' });
      for (const [name, value] of Object.entries(params)) search.set(`param_${name}`, String(value));
      const response = await fetch(`${url}/?${search.toString()}`, {
        method: 'POST',
        body: sql,
        headers: { authorization: `Basic ${Buffer.from(`${user}:${key}`).toString('base64')}` },
        signal: AbortSignal.timeout(120_000),
      });
      const text = await response.text();
      if (!response.ok) {
        throw new AispmError(
          'sql_endpoint_failed',
          `the SQL endpoint at ${url} refused a query as ${user}: ${text.trim()}`,
        );
      }
      return text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as T);
    },
  };
}
