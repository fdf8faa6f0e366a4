import { Readable } from 'node:stream';
import { ClickHouseError, ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { type Config, describeError } from '@aispm/core';
import { PINNED_SETTINGS, toBindable } from './parity.ts';
import { avroFile } from './avro-file.ts';
import { AVRO_INSERT_SETTINGS, assertIdentifier, avroInsertStatement, singleStatement } from './sql-text.ts';
import { dedupSettings, SUPPORTED_DEDUP_SETTINGS_SQL } from './dedup.ts';
import type {
  AvroColumns,
  AvroRecords,
  InsertOptions,
  QueryParams,
  RawQueryOptions,
  RawResult,
  Row,
  Store,
  StoreReader,
} from './store.ts';
import { StoreError, excerpt } from './store-error.ts';

export type ClickHouseStoreOptions = Config['clickhouse'] & {
  /** How long one request may take before it fails (ms); the client's default is 30 s. */
  requestTimeoutMs?: number;
};

/** Node's codes for "no answer at that address": the server is down, the URL is wrong, or the network is in the way. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
]);
const AUTHENTICATION_FAILED = 516;
/** What the client reports when an answer carried no ClickHouse error, e.g. a 431 for a request line past the server's limit. */
const NO_ERROR_TEXT =
  'the answer carried no ClickHouse error text (a proxy in between, or a request past the HTTP limits of the server, such as http_max_uri_size for the query parameters in the URL)';

/** What a request was doing, for its error message. */
interface Operation {
  sql: string;
  insert?: { table: string; rows: number };
}

/**
 * The Store over a ClickHouse server's HTTP interface (@clickhouse/client).
 * `open()` connects and creates the database at once; the constructor defers
 * that to the first operation, so a store can be made before its server is up.
 * An operation that cannot reach the server fails with the URL and what to
 * check, and the next operation tries again.
 */
export class ClickHouseStore implements Store {
  readonly kind = 'clickhouse';
  readonly url: string;
  readonly database: string;
  private readonly options: ClickHouseStoreOptions;
  private readonly client: ClickHouseClient;
  private ready: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  /** The insert deduplication settings the server has (dedup.ts), asked at the first insert. */
  private dedupNames: Promise<ReadonlySet<string>> | null = null;

  constructor(options: ClickHouseStoreOptions) {
    this.options = options;
    this.url = checkedUrl(options.url);
    this.database = assertIdentifier('database', options.database);
    this.client = this.connect(this.database);
  }

  /** Opens the store and makes sure its database exists, so an unreachable server or a bad password shows at start-up. */
  static async open(options: ClickHouseStoreOptions): Promise<ClickHouseStore> {
    const store = new ClickHouseStore(options);
    try {
      await store.ensureDatabase();
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  async command(sql: string, params: QueryParams = {}): Promise<void> {
    const query = singleStatement(sql);
    const query_params = toBindable(params);
    await this.operate({ sql: query }, () => this.client.command({ query, query_params }));
  }

  async query<T extends Row = Row>(sql: string, params: QueryParams = {}): Promise<T[]> {
    const query = singleStatement(sql);
    const query_params = toBindable(params);
    return this.operate({ sql: query }, async () => {
      const result = await this.client.query({ query, query_params, format: 'JSONEachRow' });
      return result.json<T>();
    });
  }

  async insert(table: string, rows: readonly Row[], options: InsertOptions = {}): Promise<void> {
    assertIdentifier('table', table);
    if (rows.length === 0) return;
    await this.operate(
      { sql: `INSERT INTO ${table} FORMAT JSONEachRow`, insert: { table, rows: rows.length } },
      async () =>
        this.client.insert({
          table,
          values: rows,
          format: 'JSONEachRow',
          clickhouse_settings: dedupSettings(options.dedupToken, await this.supportedDedup()),
        }),
    );
  }

  /** The records go in the request body as an Avro container file, read by the input() table function. */
  async insertAvro(
    table: string,
    mapping: AvroColumns,
    records: AvroRecords,
    options: InsertOptions = {},
  ): Promise<void> {
    const statement = avroInsertStatement(table, mapping, (structure) => `input(${structure})`);
    if (records.bodies.length === 0) return;
    const query = `${statement} FORMAT Avro`;
    await this.operate({ sql: query, insert: { table, rows: records.bodies.length } }, async () => {
      const result = await this.client.exec({
        query,
        values: Readable.from(avroFile(records.schema, records.bodies)),
        clickhouse_settings: {
          ...AVRO_INSERT_SETTINGS,
          ...dedupSettings(options.dedupToken, await this.supportedDedup()),
        },
      });
      // The answer to an INSERT is empty; reading it to the end frees the socket for the next request.
      for await (const _ of result.stream) void _;
    });
  }

  /**
   * Reads over the same client, each request with readonly=2 and the format as
   * default_format; settings go with each request (nothing persists between them).
   * The client's PINNED_SETTINGS apply unless the options override them.
   */
  reader(): StoreReader {
    let closed = false;
    return {
      query: async (sql: string, options: RawQueryOptions): Promise<RawResult> => {
        if (closed) throw new StoreError('store_closed', `this reader of ${this.url} is closed`);
        const settings = { ...options.settings, readonly: '2', default_format: options.format };
        return this.operate({ sql }, async () => {
          const started = performance.now();
          const result = await this.client.exec({
            query: sql,
            query_params: options.params ?? {},
            clickhouse_settings: settings as Record<string, string>,
          });
          const chunks: Buffer[] = [];
          for await (const chunk of result.stream) chunks.push(chunk as Buffer);
          const summary = result.summary;
          return {
            bytes: Buffer.concat(chunks),
            rowsRead: Number(summary?.read_rows ?? 0),
            bytesRead: Number(summary?.read_bytes ?? 0),
            elapsed: (performance.now() - started) / 1000,
          };
        });
      },
      close: () => {
        closed = true;
        return Promise.resolve();
      },
    };
  }

  /** Which insert deduplication settings the server has; asked once (again after a failure). */
  private supportedDedup(): Promise<ReadonlySet<string>> {
    if (this.dedupNames === null) {
      const attempt = (async () => {
        const result = await this.client.query({ query: SUPPORTED_DEDUP_SETTINGS_SQL, format: 'JSONEachRow' });
        return new Set((await result.json<{ name: string }>()).map((r) => r.name));
      })();
      this.dedupNames = attempt;
      attempt.catch(() => {
        if (this.dedupNames === attempt) this.dedupNames = null;
      });
    }
    return this.dedupNames;
  }

  /** Closes the client's sockets. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.client.close();
    return this.closing;
  }

  private async operate<R>(what: Operation, request: () => Promise<R>): Promise<R> {
    if (this.closing !== null) {
      throw new StoreError(
        'store_closed',
        `the ClickHouse store for ${this.url} is closed; open a new ClickHouseStore`,
      );
    }
    await this.ensureDatabase();
    try {
      return await request();
    } catch (err) {
      throw this.failure(err, what);
    }
  }

  /** Creates the database unless it exists (checked first, so a user without CREATE DATABASE can use a provisioned one). */
  private ensureDatabase(): Promise<void> {
    if (this.ready === null) {
      const attempt = this.createDatabase();
      this.ready = attempt;
      // A failed attempt is forgotten, so the next operation tries again (the server may have come up meanwhile).
      attempt.catch(() => {
        if (this.ready === attempt) this.ready = null;
      });
    }
    return this.ready;
  }

  private async createDatabase(): Promise<void> {
    const admin = this.connect(undefined);
    try {
      const result = await admin.query({
        query: 'SELECT 1 FROM system.databases WHERE name = {name:String}',
        query_params: { name: this.database },
        format: 'JSONEachRow',
      });
      if ((await result.json()).length === 0)
        await admin.command({ query: `CREATE DATABASE IF NOT EXISTS ${this.database}` });
    } catch (err) {
      throw this.failure(err, { sql: `CREATE DATABASE ${this.database}` });
    } finally {
      await admin.close();
    }
  }

  private connect(database: string | undefined): ClickHouseClient {
    return createClient({
      url: this.options.url,
      username: this.options.username,
      password: this.options.password,
      ...(database === undefined ? {} : { database }),
      ...(this.options.requestTimeoutMs === undefined ? {} : { request_timeout: this.options.requestTimeoutMs }),
      application: 'aispm',
      clickhouse_settings: { ...PINNED_SETTINGS },
      // Failures are thrown as StoreError with the context; the client's own log lines would only repeat them.
      log: { level: ClickHouseLogLevel.OFF },
    });
  }

  private failure(err: unknown, what: Operation): StoreError {
    const statement = `\nstatement: ${excerpt(what.sql)}`;
    if (err instanceof StoreError) return err;
    if (err instanceof ClickHouseError) {
      const engineCode = Number(err.code);
      if (engineCode === AUTHENTICATION_FAILED) {
        return new StoreError(
          'store_auth_failed',
          `ClickHouse at ${this.url} refused user ${JSON.stringify(this.options.username)}: ${err.message}; check AISPM_CLICKHOUSE_USER and AISPM_CLICKHOUSE_PASSWORD (or AISPM_CLICKHOUSE_PASSWORD_FILE)`,
          { cause: err, engineCode },
        );
      }
      if (what.insert !== undefined) {
        return new StoreError(
          'store_insert_failed',
          `ClickHouse at ${this.url} refused the insert of ${what.insert.rows} rows into ${what.insert.table}: ${err.message} (${err.type}); check that the rows match the table's columns and types`,
          { cause: err, engineCode },
        );
      }
      return new StoreError(
        'store_query_failed',
        `ClickHouse at ${this.url} refused the statement: ${err.message} (${err.type})${statement}`,
        { cause: err, engineCode },
      );
    }
    const code = networkCode(err);
    if (code !== undefined && UNREACHABLE.has(code)) {
      return new StoreError(
        'store_unreachable',
        `cannot reach ClickHouse at ${this.url} (${code}); check that the server is running and that AISPM_CLICKHOUSE_URL points at its HTTP interface (port 8123 by default)`,
        { cause: err },
      );
    }
    if (describeError(err) === 'Timeout error.') {
      return new StoreError(
        'store_timeout',
        `ClickHouse at ${this.url} did not answer within the request timeout; check the server's load and the network, or allow more time (requestTimeoutMs)${statement}`,
        { cause: err },
      );
    }
    return new StoreError(
      'store_request_failed',
      `request to ClickHouse at ${this.url} failed: ${describeError(err) || NO_ERROR_TEXT}${statement}`,
      {
        cause: err,
      },
    );
  }
}

/** The Node error code, also when a dual-stack connect fails on every address (an AggregateError carries it). */
function networkCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  if (err instanceof AggregateError) {
    for (const inner of err.errors) {
      const innerCode = networkCode(inner);
      if (innerCode !== undefined) return innerCode;
    }
  }
  return undefined;
}

/** The server URL without a trailing slash; refuses credentials in it, which would end up in messages and logs. */
function checkedUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new StoreError('store_bad_url', `${JSON.stringify(url)} is not a URL; expected e.g. http://127.0.0.1:8123`);
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new StoreError(
      'store_bad_url',
      'the ClickHouse URL carries a user name or password; give them as AISPM_CLICKHOUSE_USER and AISPM_CLICKHOUSE_PASSWORD (or _PASSWORD_FILE) instead, which stay out of messages and logs',
    );
  }
  return url.replace(/\/+$/, '');
}
