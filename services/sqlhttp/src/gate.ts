import type { StoreReader } from '@aispm/store';
import { ClickHouseHttpError } from './errors.ts';
import { checkQuery } from './guard.ts';
import type { Principal } from './keys.ts';
import type { SchemaCache, SchemaFacts } from './schema.ts';

/** A query the guard let through: what to run, and what it names. */
export interface Verdict {
  /** The statement to run: the client's text, or the engine's formatting of it. */
  sql: string;
  /** Whether `sql` is the engine's formatting (formatQuery), whose FORMAT clause is where withoutFormat looks. */
  formatted: boolean;
  /** The output format of its FORMAT clause, or null for none. */
  format: string | null;
}

/** A bounded map that forgets the least recently used entry first. */
export class Lru<V> {
  private readonly map = new Map<string, V>();
  readonly capacity: number;
  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get(key: string): V | undefined {
    const value = this.map.get(key);
    if (value === undefined) return undefined;
    // Map keeps insertion order: moving the entry to the end marks it used.
    this.map.delete(key);
    this.map.set(key, value);
    return value;
  }

  set(key: string, value: V): void {
    if (this.capacity <= 0) return;
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value!);
  }

  get size(): number {
    return this.map.size;
  }
}

/** The verdict cache's key: who asks, the query parameters (an Identifier parameter changes what is read) and the text. */
export function verdictKey(principal: Principal, params: Readonly<Record<string, string>>, sql: string): string {
  const who = principal.kind === 'operator' ? 'operator' : `tenant:${principal.tenant}`;
  const bound = Object.entries(params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([who, bound, sql]);
}

/**
 * Text the engine cannot read as more than one statement: chdb runs every statement
 * of a text, and only `;` (or `\G`) ends one. Such a text is checked and run as it
 * is; any other goes through formatQuery, whose parser refuses a second statement.
 */
const ONE_STATEMENT = /^[^;\\\0]*$/;

/**
 * Checks queries with the engine's parser (guard.ts) on a connection of its own,
 * whose settings no client changes, and remembers each verdict per principal,
 * parameters and text for as long as the schema it was made on holds.
 */
export class QueryGate {
  private readonly verdicts: Lru<{ generation: number; verdict: Verdict | ClickHouseHttpError }>;
  private readonly reader: StoreReader;
  private readonly schema: SchemaCache;
  private readonly tableFunctions: ReadonlySet<string>;

  constructor(reader: StoreReader, schema: SchemaCache, tableFunctions: ReadonlySet<string>, cacheEntries: number) {
    this.reader = reader;
    this.schema = schema;
    this.tableFunctions = tableFunctions;
    this.verdicts = new Lru(cacheEntries);
  }

  /** The verdict on `sql`, and the schema it holds for (whose tables the filters must cover). */
  async check(
    principal: Principal,
    sql: string,
    params: Readonly<Record<string, string>>,
  ): Promise<{ verdict: Verdict | ClickHouseHttpError; schema: SchemaFacts }> {
    const asked = Date.now();
    let schema = await this.schema.get();
    const key = verdictKey(principal, params, sql);
    const cached = this.verdicts.get(key);
    if (cached !== undefined && cached.generation === schema.generation) return { verdict: cached.verdict, schema };
    const text = ONE_STATEMENT.test(sql) ? sql : await this.formatQuery(sql);
    let dump: string;
    try {
      dump = await this.internal(`EXPLAIN AST ${text}`, params);
    } catch (err) {
      // A syntax error's position counts from "EXPLAIN AST ": formatQuery tells it in the client's own text.
      if (text === sql && (err as { engineCode?: unknown }).engineCode === SYNTAX_ERROR) await this.formatQuery(sql);
      throw err;
    }
    let checked = checkQuery(dump, { ...schema, tableFunctions: this.tableFunctions });
    // A table created since the schema was read must not be read without its filter: read the schema again.
    if (!(checked instanceof ClickHouseHttpError) && checked.tables.some((t) => !schema.tables.has(t))) {
      schema = await this.schema.fresh(asked);
      checked = checkQuery(dump, { ...schema, tableFunctions: this.tableFunctions });
    }
    const verdict =
      checked instanceof ClickHouseHttpError ? checked : { sql: text, formatted: text !== sql, format: checked.format };
    this.verdicts.set(key, { generation: schema.generation, verdict });
    return { verdict, schema };
  }

  /** The statement as the engine's formatter prints it: one statement, or SYNTAX_ERROR. */
  async formatQuery(sql: string): Promise<string> {
    const out = await this.internal('SELECT formatQuery({q:String})', { q: sql });
    return out.replace(/\n$/, '');
  }

  /** The number of verdicts held. */
  get cached(): number {
    return this.verdicts.size;
  }

  private async internal(sql: string, params: Readonly<Record<string, string>>): Promise<string> {
    const result = await this.reader.query(sql, { format: 'TSVRaw', params });
    return Buffer.from(result.bytes).toString('utf8');
  }
}

const SYNTAX_ERROR = 62;

/** Error codes that say the schema changed under a cached one: unknown table, column or identifier. */
export const SCHEMA_ERRORS: ReadonlySet<number> = new Set([16, 47, 60, 81]);
