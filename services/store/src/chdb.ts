import { randomUUID } from 'node:crypto';
import { closeSync, constants, ftruncateSync, openSync, writevSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type * as ChdbModule from 'chdb';
import type { ChdbResult, Session } from 'chdb';
import { describeError } from '@aispm/core';
import { PINNED_SETTINGS, toBindable } from './parity.ts';
import { avroFile } from './avro-file.ts';
import { writeEngineConfig } from './chdb-engine-config.ts';
import {
  AVRO_INSERT_SETTINGS,
  assertIdentifier,
  avroInsertStatement,
  isPlainIdentifier,
  singleStatement,
  stringLiteral,
} from './sql-text.ts';
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

type Chdb = typeof ChdbModule;
let loaded: Chdb | undefined;

/**
 * chdb's native addon, loaded by the first store rather than with core: importing
 * core (the shim, a gateway decode worker) must not load it, and a worker thread
 * that has loaded it crashes the whole process when it exits.
 */
function engine(): Chdb {
  loaded ??= createRequire(import.meta.url)('chdb') as Chdb;
  return loaded;
}

export interface ChdbStoreOptions {
  /** The engine's data folder (created if missing), e.g. join(config.dataDir, 'chdb'). */
  path: string;
  /** The database the store creates and works in (config.clickhouse.database). */
  database: string;
}

/** One chdb connection and the operations queued on it, run one after another. */
interface Lane {
  session: Session;
  /** Settles once the last operation queued on this connection has. */
  tail: Promise<unknown>;
}

/** A connection that inserts into one table. */
interface InsertLane extends Lane {
  /** Settles once the connection uses the store's database; rejects if it cannot. */
  ready: Promise<void>;
}

/**
 * The Store over chdb, the ClickHouse engine in this process.
 *
 * What chdb requires, and how this class meets it:
 * - One data folder per process, and one process per folder (the engine locks
 *   `<path>/status`). A second store on another folder is refused until the first
 *   is closed; a second store on the same folder shares the engine.
 * - A connection runs one statement at a time (its native mutex would park the
 *   others on libuv's small thread pool), and closing it while a statement runs
 *   aborts the engine for the whole process. So each connection's operations are
 *   queued here, one after another, and close() waits for every queue, then for
 *   chdb's own bookkeeping (drainPending) before the folder is free again.
 * - Settings and the current database are per connection: they are given when
 *   the connection opens (PINNED_SETTINGS) and by `USE`, each connection's first
 *   statement. MergeTree settings are the engine's, from a configuration file
 *   in the data folder (chdb-engine-config.ts).
 *
 * Connections. Queries and commands run on one connection. Inserts run on a
 * connection per table, opened at the table's first insert, so inserts into
 * different tables (a batch's events and its scores) run at the same time: the
 * engine parses, sorts and compresses each on a thread of its own. The order
 * callers see is still the order of their calls: a query or command waits for
 * every insert queued before it, and every insert queued after it waits for it.
 * Each running statement holds a thread of libuv's pool (sizeThreadPool makes
 * room for them).
 *
 * An insert into a table that already has one waiting in its queue joins it, so
 * concurrent writers (the processor's partitions) make one part, not one each:
 * fewer statements, and fewer parts for the engine to merge later. Only while no
 * query or command was queued after the waiting insert, so every statement still
 * sees exactly the writes queued before it. If the engine refuses the insert,
 * every caller whose rows it held gets the error. An insert with a dedup token
 * (InsertOptions) never joins nor is joined: its token must name exactly its rows,
 * so that a replay of them is recognised whatever else was being written then.
 */
export class ChdbStore implements Store {
  readonly kind = 'chdb';
  readonly path: string;
  readonly database: string;
  private readonly connectionArgs: string[];
  /** Runs queries and commands; its tail is the last statement queued. */
  private readonly statements: Lane;
  private readonly inserters = new Map<string, InsertLane>();
  private readonly ready: Promise<void>;
  private closing: Promise<void> | null = null;
  /** Per table and kind of insert, the insert waiting in the queue that later inserts can still join. */
  private readonly waitingInserts = new Map<string, { parts: (readonly unknown[])[]; done: Promise<void> }>();
  /** Prefix of the files insertAvro writes for the engine to read (scratchFile). */
  private readonly scratch: string;
  /** The engine configuration file every connection opens with. */
  private readonly configFile: string;
  /** Open readers (reader()): close() waits for their statements and releases their connections. */
  private readonly readers = new Set<ChdbReader>();
  /** The insert deduplication settings the engine has (dedup.ts), learnt when the store opens. */
  private dedupNames: ReadonlySet<string> = new Set();
  /** Numbers inserts with a dedup token, which never join another (see queueInsert). */
  private tokenInserts = 0;

  constructor(options: ChdbStoreOptions) {
    const { path } = options;
    const database = assertIdentifier('database', options.database);
    this.path = path;
    this.database = database;
    this.scratch = join(resolve(path), `avro-insert-${randomUUID()}`);
    this.configFile = engineConfig(path);
    this.connectionArgs = [
      ...Object.entries(PINNED_SETTINGS).map(([name, value]) => `--${name}=${value}`),
      `--config-file=${this.configFile}`,
    ];
    const session = this.connect();
    this.ready = (async () => {
      try {
        await session.queryAsync(`CREATE DATABASE IF NOT EXISTS ${database}`);
        await session.queryAsync(`USE ${database}`);
        const names = (await session.queryAsync(SUPPORTED_DEDUP_SETTINGS_SQL, { format: 'TSV' })).text();
        this.dedupNames = new Set(names.split('\n').filter((n) => n.length > 0));
      } catch (err) {
        throw new StoreError(
          'store_open_failed',
          `cannot create or use database ${database} in chdb at ${path}: ${describeError(err)}`,
          { cause: err, engineCode: engineCodeOf(err) },
        );
      }
    })();
    // Every operation awaits `ready` and reports its failure; the tail's catch also keeps an unused store from an unhandled rejection.
    this.statements = { session, tail: this.ready.catch(() => {}) };
  }

  /** Opens the store and waits until its database is created and in use, so a problem shows at start-up. */
  static async open(options: ChdbStoreOptions): Promise<ChdbStore> {
    const store = new ChdbStore(options);
    try {
      await store.ready;
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  async command(sql: string, params: QueryParams = {}): Promise<void> {
    await this.execute(singleStatement(sql), params, 'CSV');
  }

  async query<T extends Row = Row>(sql: string, params: QueryParams = {}): Promise<T[]> {
    const result = await this.execute(singleStatement(sql), params, 'JSONEachRow');
    return parseJsonEachRow<T>(result.text());
  }

  async insert(table: string, rows: readonly Row[], options: InsertOptions = {}): Promise<void> {
    assertIdentifier('table', table);
    if (rows.length === 0) return;
    const { dedupToken } = options;
    return this.queueInsert(table, this.joinKey(`rows ${table}`, dedupToken), rows, ({ session }, joined) =>
      this.insertNow(session, table, joined, dedupSettings(dedupToken, this.dedupNames)),
    );
  }

  /**
   * The key under which an insert may join another (queueInsert). An insert with a
   * dedup token never joins: the token names exactly its rows, and a replay must
   * find them under it again, whatever else was being inserted at the time.
   */
  private joinKey(key: string, dedupToken: string | undefined): string {
    return dedupToken === undefined ? key : `${key} token#${++this.tokenInserts}`;
  }

  /**
   * chdb's insert call takes text formats only, so the records go to the engine as
   * an Avro container file in the data folder, which an INSERT … SELECT reads with
   * the file() table function. The file is written synchronously: a copy of a few
   * megabytes into the page cache, where each await would leave the table's
   * connection idle until the event loop comes round again.
   */
  async insertAvro(
    table: string,
    mapping: AvroColumns,
    records: AvroRecords,
    options: InsertOptions = {},
  ): Promise<void> {
    const scratch = this.scratchFile(table);
    const { dedupToken } = options;
    // Built before the empty check, so a bad mapping is refused even without records.
    const statement = (settings: string): string =>
      avroInsertStatement(
        table,
        mapping,
        (structure) => `file(${stringLiteral(scratch)}, 'Avro', ${structure}) ${settings}`,
      );
    const key = `avro ${statement('')} ${records.schema}`;
    if (records.bodies.length === 0) return;
    return this.queueInsert(table, this.joinKey(key, dedupToken), records.bodies, async ({ session }, bodies) => {
      writeOver(scratch, avroFile(records.schema, bodies));
      try {
        await session.queryAsync(
          statement(settingsClause({ ...AVRO_INSERT_SETTINGS, ...dedupSettings(dedupToken, this.dedupNames) })),
        );
      } catch (err) {
        throw new StoreError(
          'store_insert_failed',
          `chdb refused the insert of ${bodies.length} Avro records into ${table}: ${describeError(err)}; check that the records match the mapping's structure and the table's columns`,
          { cause: err, engineCode: engineCodeOf(err) },
        );
      }
    });
  }

  /** The file insertAvro writes a table's records to: one per table, as a table's inserts run one at a time. */
  private scratchFile(table: string): string {
    return `${this.scratch}-${table}.avro`;
  }

  /**
   * Runs an insert of `items` in its turn on the table's connection, or joins them to
   * the insert with the same key still waiting there (see the class comment).
   */
  private queueInsert<T>(
    table: string,
    key: string,
    items: readonly T[],
    run: (lane: InsertLane, joined: readonly T[]) => Promise<void>,
  ): Promise<void> {
    const waiting = this.waitingInserts.get(key);
    if (waiting) {
      waiting.parts.push(items);
      return waiting.done;
    }
    const parts = [items];
    // The task runs once the queue reaches it; until then, later inserts with this key join `parts`.
    const done = this.insertOn(table, (lane) => {
      if (this.waitingInserts.get(key)?.parts === parts) this.waitingInserts.delete(key);
      return run(lane, parts.length === 1 ? parts[0]! : parts.flat());
    });
    this.waitingInserts.set(key, { parts, done });
    return done;
  }

  private async insertNow(
    session: Session,
    table: string,
    rows: readonly Row[],
    settings: Record<string, string | number>,
  ): Promise<void> {
    let payload: InsertPayload;
    try {
      payload = insertPayload(rows);
    } catch (err) {
      throw new StoreError(
        'store_bad_row',
        `cannot serialize rows for ${table}: ${describeError(err)}; pass 64-bit integers as strings`,
        { cause: err },
      );
    }
    try {
      await session.insert({ table, ...payload, settings });
    } catch (err) {
      throw new StoreError(
        'store_insert_failed',
        `chdb refused the insert of ${rows.length} rows into ${table}: ${describeError(err)}; check that the rows match the table's columns and types`,
        { cause: err, engineCode: engineCodeOf(err) },
      );
    }
  }

  /**
   * A connection of its own in readonly=2, using the store's database, with the
   * engine's default settings (not PINNED_SETTINGS: what it serves should look like
   * a ClickHouse server's answers). Its statements queue on it alone: a slow read
   * holds up neither the pipeline's inserts nor its queries.
   */
  reader(): StoreReader {
    if (this.closing !== null) throw closedError(this.path);
    let session: Session;
    try {
      session = new (engine().Session)(this.path, {
        connectionArgs: [`--config-file=${this.configFile}`, '--readonly=2'],
      });
    } catch (err) {
      throw openError(this.path, err);
    }
    const ready = this.ready.then(async () => {
      try {
        await session.queryAsync(`USE ${this.database}`);
      } catch (err) {
        throw new StoreError(
          'store_open_failed',
          `cannot use database ${this.database} on a new chdb reader at ${this.path}: ${describeError(err)}`,
          { cause: err, engineCode: engineCodeOf(err) },
        );
      }
    });
    const reader = new ChdbReader(session, ready, this.path, () => this.readers.delete(reader));
    this.readers.add(reader);
    return reader;
  }

  /** Waits for queued operations, releases the connections, and waits until chdb has let go of the folder. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.readers].map((reader) => reader.close()));
      const lanes = [this.statements, ...this.inserters.values()];
      await Promise.all(lanes.map((lane) => lane.tail));
      for (const lane of lanes) lane.session.close();
      await engine().drainPending();
      await Promise.all([...this.inserters.keys()].map((table) => rm(this.scratchFile(table), { force: true })));
    })();
    return this.closing;
  }

  private execute(sql: string, params: QueryParams, format: string): Promise<ChdbResult> {
    if (this.closing !== null) return Promise.reject(closedError(this.path));
    const bound = toBindable(params);
    // A statement queued after the waiting inserts must see exactly them: none may be joined from now on.
    this.waitingInserts.clear();
    const before = Promise.all([this.statements.tail, ...[...this.inserters.values()].map((lane) => lane.tail)]);
    const result = before.then(async () => {
      await this.ready;
      const { session } = this.statements;
      try {
        return Object.keys(bound).length === 0
          ? await session.queryAsync(sql, { format })
          : await session.queryBindAsync(sql, bound, { format });
      } catch (err) {
        await drainFailed(session);
        throw queryError(sql, err);
      }
    });
    this.statements.tail = result.catch(() => {});
    return result;
  }

  /** Queues a task on the table's connection, after the statements queued so far. Throws store_open_failed when the connection cannot open. */
  private insertOn<R>(table: string, task: (lane: InsertLane) => Promise<R>): Promise<R> {
    if (this.closing !== null) return Promise.reject(closedError(this.path));
    const lane = this.inserter(table);
    const result = Promise.all([this.statements.tail, lane.tail]).then(async () => {
      await lane.ready;
      return task(lane);
    });
    lane.tail = result.catch(() => {});
    return result;
  }

  /** A new connection to the engine, with the pinned settings and the engine's configuration. */
  private connect(): Session {
    try {
      return new (engine().Session)(this.path, { connectionArgs: this.connectionArgs });
    } catch (err) {
      throw openError(this.path, err);
    }
  }

  private inserter(table: string): InsertLane {
    let lane = this.inserters.get(table);
    if (lane) return lane;
    const session = this.connect();
    const ready = this.ready.then(async () => {
      try {
        await session.queryAsync(`USE ${this.database}`);
      } catch (err) {
        throw new StoreError(
          'store_open_failed',
          `cannot use database ${this.database} on a new chdb connection at ${this.path}: ${describeError(err)}`,
          { cause: err, engineCode: engineCodeOf(err) },
        );
      }
    });
    lane = { session, tail: ready.catch(() => {}), ready };
    this.inserters.set(table, lane);
    return lane;
  }
}

/** A StoreReader over one chdb connection; its statements run one after another. */
class ChdbReader implements StoreReader {
  private readonly session: Session;
  private readonly ready: Promise<void>;
  private readonly path: string;
  private readonly forget: () => void;
  private tail: Promise<unknown>;
  private closing: Promise<void> | null = null;

  constructor(session: Session, ready: Promise<void>, path: string, forget: () => void) {
    this.session = session;
    this.ready = ready;
    this.path = path;
    this.forget = forget;
    this.tail = ready.catch(() => {});
  }

  query(sql: string, options: RawQueryOptions): Promise<RawResult> {
    if (this.closing !== null) return Promise.reject(closedError(this.path));
    const set = setStatement(options.settings ?? {});
    const params = options.params ?? {};
    const result = this.tail.then(async () => {
      await this.ready;
      try {
        if (set !== null) await this.session.queryAsync(set);
        const out =
          Object.keys(params).length === 0
            ? await this.session.queryAsync(sql, { format: options.format })
            : await this.session.queryBindAsync(sql, params, { format: options.format });
        return { bytes: out.bytes(), rowsRead: out.rowsRead, bytesRead: out.bytesRead, elapsed: out.elapsed };
      } catch (err) {
        await drainFailed(this.session);
        throw queryError(sql, err);
      }
    });
    this.tail = result.catch(() => {});
    return result;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.tail;
      this.session.close();
      this.forget();
    })();
    return this.closing;
  }
}

/** `SET a = …, b = …` for the settings, or null for none; names must be plain identifiers, values become literals. */
function setStatement(settings: Readonly<Record<string, string | number>>): string | null {
  const entries = Object.entries(settings);
  if (entries.length === 0) return null;
  const parts = entries.map(([name, value]) => {
    if (!isPlainIdentifier(name)) {
      throw new StoreError('store_bad_identifier', `setting name ${JSON.stringify(name)} is not a plain identifier`);
    }
    if (typeof value === 'number' && !Number.isFinite(value)) {
      throw new StoreError('store_bad_param', `setting ${name} is ${value}, not a finite number`);
    }
    return `${name} = ${typeof value === 'number' ? String(value) : stringLiteral(value)}`;
  });
  return `SET ${parts.join(', ')}`;
}

/** Settings as the SETTINGS clause of chdb's INSERT … SELECT (AVRO_INSERT_SETTINGS and the dedup settings). */
function settingsClause(settings: Readonly<Record<string, string | number>>): string {
  return `SETTINGS ${Object.entries(settings)
    .map(([name, value]) => `${name} = ${typeof value === 'number' ? String(value) : stringLiteral(value)}`)
    .join(', ')}`;
}

type InsertPayload =
  { format: 'JSONCompactEachRow'; columns: string[]; values: Buffer } | { format: 'JSONEachRow'; values: Buffer };

/**
 * Rows as the engine parses them fastest. When every row has the first row's
 * columns, none undefined, they go as JSONCompactEachRow: one JSON array per row
 * in a named column order, the same values JSONEachRow would carry without the
 * keys. For a batch of `events` rows that is about a fifth less CPU, writing and
 * parsing together. Other batches (rows that leave out columns to get their
 * defaults, or differ in shape) go as JSONEachRow, with the same meaning.
 */
function insertPayload(rows: readonly Row[]): InsertPayload {
  const columns = Object.keys(rows[0]!);
  if (columns.every(isPlainIdentifier)) {
    const lines = compactLines(rows, columns);
    if (lines) return { format: 'JSONCompactEachRow', columns, values: Buffer.from(lines) };
  }
  return { format: 'JSONEachRow', values: Buffer.from(rows.map((row) => JSON.stringify(row)).join('\n') + '\n') };
}

/** JSONCompactEachRow text of the rows, or null when a row's columns are not exactly `columns`. */
function compactLines(rows: readonly Row[], columns: readonly string[]): string | null {
  let text = '';
  const values: unknown[] = new Array<unknown>(columns.length);
  for (const row of rows) {
    let count = 0;
    for (const key in row) if (Object.hasOwn(row, key)) count++;
    if (count !== columns.length) return null;
    for (let i = 0; i < columns.length; i++) {
      const value = row[columns[i]!];
      // JSONEachRow leaves an undefined value out (the column's default); an array would write null.
      if (value === undefined) return null;
      values[i] = value;
    }
    text += JSON.stringify(values) + '\n';
  }
  return text;
}

function parseJsonEachRow<T>(text: string): T[] {
  const rows: T[] = [];
  for (const line of text.split('\n')) if (line.length > 0) rows.push(JSON.parse(line) as T);
  return rows;
}

/**
 * chdb hands the rows a statement produced before it failed (a timeout, a memory
 * limit) to the next statement on the same connection, ahead of that statement's
 * own: on a reader serving several tenants, another tenant's. A throwaway statement
 * right after the failure takes them.
 */
async function drainFailed(session: Session): Promise<void> {
  await session.queryAsync('SELECT 1', { format: 'TabSeparated' }).catch(() => undefined);
}

/** ClickHouse's error number, which chdb's typed errors carry as `clickhouseCode`. */
function engineCodeOf(err: unknown): number | undefined {
  const code = (err as { clickhouseCode?: unknown } | null)?.clickhouseCode;
  return typeof code === 'number' ? code : undefined;
}

function queryError(sql: string, err: unknown): StoreError {
  if ((err as { code?: unknown } | null)?.code === 'CHDB_BIND') {
    return new StoreError('store_bad_param', `a query parameter cannot be bound: ${describeError(err)}`, {
      cause: err,
    });
  }
  return new StoreError(
    'store_query_failed',
    `chdb refused the statement: ${describeError(err)}\nstatement: ${excerpt(sql)}`,
    {
      cause: err,
      engineCode: engineCodeOf(err),
    },
  );
}

function engineConfig(path: string): string {
  try {
    return writeEngineConfig(path);
  } catch (err) {
    throw openError(path, err);
  }
}

function openError(path: string, err: unknown): StoreError {
  const message = describeError(err);
  if (message.includes('only one active data directory')) {
    return new StoreError(
      'store_path_in_use',
      `cannot open chdb at ${path}: this process already runs chdb on another folder (${message}); close that ChdbStore first — chdb runs one data folder per process`,
      { cause: err },
    );
  }
  return new StoreError(
    'store_open_failed',
    `cannot open chdb at ${path}: ${message}; check that the folder is writable and that no other process (another aispm, clickhouse-local) is using it — chdb locks ${path}/status`,
    { cause: err },
  );
}

function closedError(path: string): StoreError {
  return new StoreError('store_closed', `the chdb store at ${path} is closed; open a new ChdbStore to use it again`);
}

/**
 * Writes `buffers` as the whole content of `path`, over the file's old content,
 * then cuts off what is left of it. Opening with truncation (flag 'w') instead cost
 * ~1.8 ms per 2 MB file on ext4, on the event loop's thread; this costs ~0.2 ms.
 */
function writeOver(path: string, buffers: readonly Uint8Array[]): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT, 0o600);
  try {
    const length = writevSync(fd, buffers, 0);
    ftruncateSync(fd, length);
  } finally {
    closeSync(fd);
  }
}
