import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Store, StoreReader } from '@aispm/store';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { CODES, ClickHouseHttpError, engineException, exception, learnErrorNames } from './errors.ts';
import { QueryGate, SCHEMA_ERRORS, type Verdict } from './gate.ts';
import { principalOf } from './keys.ts';
import {
  FramingError,
  MAX_NATIVE_REVISION,
  MIN_NATIVE_REVISION,
  nativeFromBuffers,
  UNFRAMEABLE_TYPE,
  type ResultColumn,
} from './native.ts';
import type { SqlEndpointConfig } from './options.ts';
import { SCHEMA_SQL, SchemaCache, tableFilters } from './schema.ts';
import { isChangeable, sortParams } from './settings.ts';

/** What the engine told us once, at start: it does not change while the process runs. */
interface EngineFacts {
  version: string;
  timezone: string;
  outputFormats: Map<string, string>;
  tableFunctions: Set<string>;
  /** Default values of the settings a tenant may change: each query sets them all, so none carries over. */
  defaults: Record<string, string>;
  /** Every setting's name. */
  settings: Set<string>;
}

/**
 * A read-only connection that runs clients' queries, and the settings last SET on
 * it: a query with the same settings (the same client asking again) skips the SET.
 */
class PooledReader {
  private applied: string | null = null;
  readonly reader: StoreReader;
  constructor(reader: StoreReader) {
    this.reader = reader;
  }

  /** Runs `sql` with exactly `settings` in force (every setting the endpoint manages, every time). */
  async query(sql: string, format: string, params: Record<string, string>, settings: Record<string, string | number>) {
    const text = JSON.stringify(settings);
    const same = text === this.applied;
    // Until the statement succeeds, what the connection holds is not known: the next one sets all again.
    this.applied = null;
    const result = await this.reader.query(sql, { format, params, ...(same ? {} : { settings }) });
    this.applied = text;
    return result;
  }
}

/** A fixed set of read-only connections, lent one query at a time; a bounded queue waits for them. */
class ReaderPool {
  private readonly free: PooledReader[];
  private readonly waiting: ((reader: PooledReader) => void)[] = [];
  private readonly all: PooledReader[];
  private readonly maxQueued: number;

  constructor(store: Store, size: number, maxQueued: number) {
    this.all = Array.from({ length: size }, () => new PooledReader(store.reader()));
    this.free = [...this.all];
    this.maxQueued = maxQueued;
  }

  /** A reader, now or once one is free; null when the queue is full. */
  acquire(): Promise<PooledReader> | null {
    const reader = this.free.pop();
    if (reader !== undefined) return Promise.resolve(reader);
    if (this.waiting.length >= this.maxQueued) return null;
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(reader: PooledReader): void {
    const next = this.waiting.shift();
    if (next !== undefined) next(reader);
    else this.free.push(reader);
  }

  close(): Promise<void> {
    return Promise.all(this.all.map(({ reader }) => reader.close())).then(() => {});
  }
}

/** Runs an internal statement on a reader and returns its text, with settings that keep it from being cut short by the last query's. */
async function internal(reader: StoreReader, sql: string, params: Record<string, string> = {}): Promise<string> {
  const result = await reader.query(sql, { format: 'TSVRaw', params });
  return Buffer.from(result.bytes).toString('utf8');
}

const INTERNAL_SETTINGS = 'SETTINGS max_result_rows = 0, max_result_bytes = 0, limit = 0, offset = 0';

async function learnEngine(reader: StoreReader): Promise<EngineFacts> {
  const [head] = (await internal(reader, `SELECT version(), timezone() ${INTERNAL_SETTINGS}`)).split('\n');
  const [version = '', timezone = 'UTC'] = head!.split('\t');
  const rows = (sql: string): string[][] =>
    sql
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split('\t'));
  const formats = rows(await internal(reader, `SELECT name FROM system.formats WHERE is_output ${INTERNAL_SETTINGS}`));
  const functions = rows(await internal(reader, `SELECT name FROM system.table_functions ${INTERNAL_SETTINGS}`));
  const settings = rows(await internal(reader, `SELECT name, default FROM system.settings ${INTERNAL_SETTINGS}`));
  const errors = rows(
    await internal(
      reader,
      `SELECT number, errorCodeToName(number) FROM numbers(2000) WHERE errorCodeToName(number) != '' ${INTERNAL_SETTINGS}`,
    ),
  );
  learnErrorNames(errors.map(([code, name]) => [Number(code), name ?? ''] as const));
  return {
    version,
    timezone,
    outputFormats: new Map(formats.map(([name]) => [name!.toLowerCase(), name!])),
    tableFunctions: new Set(functions.map(([name]) => name!.toLowerCase())),
    settings: new Set(settings.map(([name]) => name!)),
    defaults: Object.fromEntries(
      settings.filter(([name]) => isChangeable(name!)).map(([name, value]) => [name!, value ?? '']),
    ),
  };
}

/** Content-Type as a ClickHouse server sends it, by output format. */
function contentTypeOf(format: string): string {
  const f = format.toLowerCase();
  if (f.startsWith('json') || f === 'ndjson') return 'application/json; charset=UTF-8';
  if (f.startsWith('tabseparated') || f.startsWith('tsv')) return 'text/tab-separated-values; charset=UTF-8';
  if (f.startsWith('csv')) return `text/csv; charset=UTF-8; header=${f.includes('names') ? 'present' : 'absent'}`;
  if (f === 'xml') return 'application/xml; charset=UTF-8';
  if (f.startsWith('pretty') || f === 'vertical' || f === 'markdown' || f === 'values' || f === 'lineasstring')
    return 'text/plain; charset=UTF-8';
  return 'application/octet-stream';
}

const compressors: Record<string, (body: Uint8Array) => Promise<Buffer>> = {
  gzip: promisify(zlib.gzip),
  deflate: promisify(zlib.deflate),
  br: promisify(zlib.brotliCompress),
  ...('zstdCompress' in zlib ? { zstd: promisify(zlib.zstdCompress) } : {}),
};

/** The first encoding of Accept-Encoding this endpoint can produce, or null. */
function encodingFor(accept: string | undefined): string | null {
  if (accept === undefined) return null;
  for (const part of accept.split(',')) {
    const [name = '', ...rest] = part.trim().toLowerCase().split(';');
    if (rest.some((p) => p.trim() === 'q=0')) continue;
    if (name in compressors) return name;
  }
  return null;
}

function decompress(body: Buffer, encoding: string | undefined, limit: number): Buffer {
  if (encoding === undefined || encoding === '' || encoding === 'identity') return body;
  const options = { maxOutputLength: limit + 1 };
  switch (encoding.toLowerCase()) {
    case 'gzip':
      return zlib.gunzipSync(body, options);
    case 'deflate':
      return zlib.inflateSync(body, options);
    case 'br':
      return zlib.brotliDecompressSync(body, options);
    case 'zstd':
      if ('zstdDecompressSync' in zlib) return zlib.zstdDecompressSync(body, options);
      break;
  }
  throw exception(CODES.CANNOT_DECOMPRESS, `Unknown HTTP Content-Encoding ${encoding}; send gzip, deflate, br or zstd`);
}

/** The user and key of a request, the ways ClickHouse accepts them. */
function credentials(request: FastifyRequest, search: URLSearchParams): { user: string; key: string } {
  const header = (name: string): string | undefined => {
    const value = request.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const authorization = header('authorization');
  if (authorization?.toLowerCase().startsWith('basic ')) {
    const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon >= 0) return { user: decoded.slice(0, colon), key: decoded.slice(colon + 1) };
  }
  const user = header('x-clickhouse-user') ?? search.get('user') ?? 'default';
  const key = header('x-clickhouse-key') ?? search.get('password') ?? '';
  return { user, key };
}

export interface SqlEndpoint {
  app: FastifyInstance;
  /** Resolves once the engine's facts are read and the readers are open. */
  ready: Promise<void>;
}

/**
 * The ClickHouse HTTP interface over the store's engine, read-only and per tenant.
 *
 * A query goes: key → tenant (or the operator); the guard (gate.ts), on a
 * connection of its own: a text that may hold more than one statement through
 * `formatQuery` (the engine's parser, on the text as a bound parameter: nothing of
 * it runs, and a second statement is a syntax error), then `EXPLAIN AST` of the one
 * statement, checked by guard.ts (a plain SELECT naming only the store's tables,
 * allowed system tables and generator table functions, no SETTINGS, no INTO
 * OUTFILE) — a verdict remembered per principal and text while the schema holds;
 * then the statement runs on a readonly=2 connection with every tenant-changeable
 * setting and additional_table_filters in force, which cut every read of each of
 * the store's tables to the principal's rows (schema.ts).
 */
export function buildSqlEndpoint(config: SqlEndpointConfig): SqlEndpoint {
  const { store, keys, operatorKeys } = config;
  const pool = new ReaderPool(store, config.maxConcurrent, config.maxQueued);
  // Internal statements (the guard's, the schema's) run here, never under a client's settings.
  const internalReader = store.reader();
  const schema = new SchemaCache(
    async () => Buffer.from((await internalReader.query(SCHEMA_SQL, { format: 'JSONEachRow' })).bytes).toString('utf8'),
    config.schemaCacheMs,
  );
  let facts: EngineFacts | null = null;
  let gate: QueryGate | null = null;
  const ready = (async () => {
    facts = await learnEngine(internalReader);
    gate = new QueryGate(internalReader, schema, facts.tableFunctions, config.guardCacheEntries);
  })();
  // A failed start is reported by the caller (startSqlEndpoint awaits ready); requests answer 500 meanwhile.
  ready.catch(() => {});

  const app = Fastify({
    logger: false,
    bodyLimit: config.maxQueryBytes,
    requestTimeout: (config.maxExecutionSeconds + 30) * 1000,
  });
  app.addHook('onClose', async () => {
    await pool.close();
    await internalReader.close();
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  const ok = (_request: FastifyRequest, reply: FastifyReply): FastifyReply =>
    reply.type('text/plain; charset=UTF-8').send('Ok.\n');
  app.get('/ping', ok);
  app.get('/replicas_status', ok);

  const handle = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const started = process.hrtime.bigint();
    const search = new URL(request.url, 'http://localhost').searchParams;
    const queryId = search.get('query_id') || randomUUID();
    void reply.header('x-clickhouse-query-id', queryId);
    void reply.header('x-clickhouse-server-display-name', 'aispm');
    const fail = (err: ClickHouseHttpError): FastifyReply => {
      const version = facts?.version;
      return reply
        .code(err.status)
        .header('x-clickhouse-exception-code', String(err.code))
        .type('text/plain; charset=UTF-8')
        .send(`${err.text}${version && !err.text.includes('(version ') ? ` (version ${version})` : ''}\n`);
    };
    try {
      const body: Buffer = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const queryParam = search.get('query');
      if (request.method === 'GET' && queryParam === null) return ok(request, reply);
      const { user, key } = credentials(request, search);
      const principal = principalOf(user, key, keys, operatorKeys);
      if (principal === null) {
        return fail(
          exception(
            CODES.AUTHENTICATION_FAILED,
            `${user}: Authentication failed: password is incorrect, or there is no user with such name`,
          ),
        );
      }
      const text = decompress(body, header(request, 'content-encoding'), config.maxQueryBytes);
      const sql =
        queryParam === null
          ? text.toString('utf8')
          : text.length > 0
            ? `${queryParam}\n${text.toString('utf8')}`
            : queryParam;
      if (Buffer.byteLength(sql) > config.maxQueryBytes) {
        return fail(
          exception(
            CODES.QUERY_IS_TOO_LARGE,
            `Query is too large (${Buffer.byteLength(sql)} bytes); max_query_size = ${config.maxQueryBytes} (AISPM_SQL_MAX_QUERY_BYTES)`,
          ),
        );
      }
      if (sql.trim() === '') return fail(exception(CODES.SYNTAX_ERROR, 'Empty query'));
      await ready;
      const engine = facts!;
      const sorted = sortParams(search, engine.settings);
      if (sorted instanceof ClickHouseHttpError) return fail(sorted);
      const protocolText = sorted.interface.get('client_protocol_version') ?? '0';
      const protocol = /^\d{1,9}$/.test(protocolText) ? Number(protocolText) : NaN;
      if (Number.isNaN(protocol)) {
        return fail(exception(CODES.BAD_ARGUMENTS, `client_protocol_version is ${protocolText}; expected a number`));
      }
      for (const name of ['compress', 'decompress']) {
        if (sorted.interface.get(name) === '1') {
          return fail(
            exception(
              48,
              `${name}=1 (ClickHouse's native block compression) is not supported here; use enable_http_compression=1 with Accept-Encoding`,
            ),
          );
        }
      }
      const database = sorted.interface.get('database') ?? header(request, 'x-clickhouse-database');
      if (database !== undefined && database !== '' && database !== store.database && database !== 'default') {
        return fail(exception(CODES.UNKNOWN_DATABASE, `Database ${database} does not exist`));
      }
      const checked = await gate!.check(principal, sql, sorted.params);
      if (checked.verdict instanceof ClickHouseHttpError) return fail(checked.verdict);
      const verdict: Verdict = checked.verdict;
      const pending = pool.acquire();
      if (pending === null) {
        return fail(
          exception(
            CODES.TOO_MANY_SIMULTANEOUS_QUERIES,
            `Too many simultaneous queries: ${config.maxConcurrent} running and ${config.maxQueued} waiting (AISPM_SQL_MAX_CONCURRENT, AISPM_SQL_MAX_QUEUED)`,
          ),
        );
      }
      const reader = await pending;
      let result;
      let output: Uint8Array;
      let format: string;
      try {
        const requested =
          verdict.format ??
          sorted.interface.get('default_format') ??
          header(request, 'x-clickhouse-format') ??
          'TabSeparated';
        const known = engine.outputFormats.get(requested.toLowerCase());
        if (known === undefined) return fail(exception(CODES.UNKNOWN_FORMAT, `Unknown output format ${requested}`));
        format = known;
        const limits = {
          max_execution_time: Math.min(
            positive(sorted.settings.max_execution_time) ?? config.maxExecutionSeconds,
            config.maxExecutionSeconds,
          ),
          max_result_bytes: Math.min(
            positive(sorted.settings.max_result_bytes) ?? config.maxResultBytes,
            config.maxResultBytes,
          ),
          max_memory_usage: config.maxMemoryBytes,
        };
        const settings = {
          ...engine.defaults,
          ...sorted.settings,
          ...limits,
          additional_table_filters: tableFilters(checked.schema, principal),
        };
        if (protocol > 0 && format === 'Native') {
          // Native at the client's revision, as a server writes it for clickhouse-go (native.ts).
          if (protocol < MIN_NATIVE_REVISION || protocol > MAX_NATIVE_REVISION) {
            return fail(
              exception(
                48,
                `Native output for client_protocol_version ${protocol} is not supported by the embedded engine (${MIN_NATIVE_REVISION}-${MAX_NATIVE_REVISION} are); read RowBinaryWithNamesAndTypes, JSON or Native without client_protocol_version`,
              ),
            );
          }
          const printed = verdict.formatted || verdict.format === null ? verdict.sql : await gate!.formatQuery(sql);
          const statement = withoutFormat(printed, verdict.format);
          const described = await reader.query(
            `DESCRIBE TABLE (${statement})`,
            'JSONCompactEachRow',
            sorted.params,
            settings,
          );
          const columns = Buffer.from(described.bytes)
            .toString('utf8')
            .split('\n')
            .filter(Boolean)
            .map((line): ResultColumn => {
              const [name, type] = JSON.parse(line) as [string, string];
              return { name, type };
            });
          const unframeable = columns.find((column) => UNFRAMEABLE_TYPE.test(column.type));
          if (unframeable !== undefined) {
            return fail(
              exception(
                48,
                `Native output with client_protocol_version for column ${unframeable.name} of type ${unframeable.type} is not supported by the embedded engine; cast it (e.g. toString) or read RowBinaryWithNamesAndTypes or JSON`,
              ),
            );
          }
          result = await reader.query(statement, 'Buffers', sorted.params, settings);
          output = nativeFromBuffers(result.bytes, columns, protocol);
        } else {
          result = await reader.query(verdict.sql, format, sorted.params, settings);
          output = result.bytes;
        }
      } finally {
        pool.release(reader);
      }
      const elapsedNs = process.hrtime.bigint() - started;
      void reply
        .header('x-clickhouse-format', format)
        .header('x-clickhouse-timezone', engine.timezone)
        .header(
          'x-clickhouse-summary',
          JSON.stringify({
            read_rows: String(result.rowsRead),
            read_bytes: String(result.bytesRead),
            written_rows: '0',
            written_bytes: '0',
            total_rows_to_read: String(result.rowsRead),
            result_bytes: String(output.length),
            elapsed_ns: String(elapsedNs),
          }),
        )
        .type(contentTypeOf(format));
      const wanted =
        sorted.interface.get('enable_http_compression') === '1'
          ? encodingFor(header(request, 'accept-encoding'))
          : null;
      if (wanted !== null) {
        return reply.header('content-encoding', wanted).send(await compressors[wanted]!(output));
      }
      return reply.send(Buffer.from(output.buffer, output.byteOffset, output.byteLength));
    } catch (err) {
      if (err instanceof ClickHouseHttpError) return fail(err);
      if (err instanceof FramingError) {
        config.log?.error('sql endpoint could not frame Native output', { error: err.message, queryId });
        return fail(exception(1001, `internal error: ${err.message}; read RowBinaryWithNamesAndTypes or JSON`));
      }
      const engineCode = (err as { engineCode?: unknown }).engineCode;
      if (typeof engineCode === 'number') {
        // A table or column the cached schema names may be gone: read it again for the next query.
        if (SCHEMA_ERRORS.has(engineCode)) schema.invalidate();
        const cause = (err as { cause?: unknown }).cause;
        return fail(engineException(engineCode, cause instanceof Error ? cause.message : String(err)));
      }
      if ((err as { code?: unknown }).code === 'store_bad_param') {
        return fail(exception(CODES.BAD_ARGUMENTS, (err as Error).message));
      }
      if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
        return fail(
          exception(
            CODES.QUERY_IS_TOO_LARGE,
            `The request body inflates past ${config.maxQueryBytes} bytes (AISPM_SQL_MAX_QUERY_BYTES)`,
          ),
        );
      }
      if (typeof (err as { code?: unknown }).code === 'string' && (err as { code: string }).code.startsWith('Z_')) {
        return fail(
          exception(CODES.CANNOT_DECOMPRESS, `Cannot decompress the request body: ${(err as Error).message}`),
        );
      }
      config.log?.error('sql endpoint query failed', { error: String(err), queryId });
      return fail(exception(1001, `internal error: ${(err as Error).message}`));
    }
  };
  app.get('/', handle);
  app.post('/', handle);
  app.setNotFoundHandler((_request, reply) =>
    reply
      .code(404)
      .header('x-clickhouse-exception-code', '0')
      .type('text/plain; charset=UTF-8')
      .send(`There is no handle ${_request.url.split('?')[0]}\n\nUse / or /ping for health checks.\n`),
  );
  return { app, ready };
}

/** The statement without its FORMAT clause (the last one: the guard refuses SETTINGS and INTO OUTFILE), as formatQuery printed it. */
function withoutFormat(sql: string, format: string | null): string {
  if (format === null) return sql;
  const clause = /\s+FORMAT\s+(\S+)\s*$/.exec(sql);
  const name = clause?.[1]?.replace(/^[`"]|[`"]$/g, '');
  if (clause === null || name?.toLowerCase() !== format.toLowerCase()) {
    throw exception(CODES.SYNTAX_ERROR, `cannot find the FORMAT ${format} clause at the end of the query`);
  }
  return sql.slice(0, clause.index);
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function positive(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}
