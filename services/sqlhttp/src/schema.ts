import type { Principal } from './keys.ts';

/**
 * The store's tables an operator reads: the pipeline's own figures, per stage and
 * partition, never per tenant. Not processor_state: its keys and snapshots are
 * tenants' entities. Rows of these tables that carry a tenant other than '' stay hidden.
 */
export const OPERATOR_TABLES: ReadonlySet<string> = new Set(['pipeline_stats', 'aispm_migrations']);

/** What the engine says of the store's schema: what the guard and the table filters need. */
export interface SchemaFacts {
  /** The store's database (the readers' current one). */
  database: string;
  /** Every database the engine has. */
  databases: ReadonlySet<string>;
  /** Each table of the store's database, and whether it has a tenant column. */
  tables: ReadonlyMap<string, { tenant: boolean }>;
  /** Bumped when a read finds the schema changed: a guard verdict holds for the generation it was made on. */
  generation: number;
}

/** The statement that reads SchemaFacts (one row, JSONEachRow). */
export const SCHEMA_SQL = `SELECT
  (SELECT groupArray(name) FROM system.databases) AS databases,
  (SELECT groupArray((table, has)) FROM (
     SELECT table, max(name = 'tenant') AS has FROM system.columns WHERE database = currentDatabase() GROUP BY table
   )) AS tables,
  currentDatabase() AS database
SETTINGS max_result_rows = 0, max_result_bytes = 0, limit = 0, offset = 0`;

/** SchemaFacts from SCHEMA_SQL's row. */
export function schemaFromRow(json: string, generation: number): SchemaFacts {
  const row = JSON.parse(json) as { databases: string[]; tables: [string, number | string][]; database: string };
  return {
    database: row.database,
    databases: new Set(row.databases),
    tables: new Map(row.tables.map(([table, has]) => [table, { tenant: Number(has) === 1 }])),
    generation,
  };
}

function sameSchema(a: SchemaFacts, b: SchemaFacts): boolean {
  const text = (f: SchemaFacts): string =>
    JSON.stringify([f.database, [...f.databases].sort(), [...f.tables].map(([t, { tenant }]) => [t, tenant]).sort()]);
  return text(a) === text(b);
}

const stringLiteral = (text: string): string => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * The additional_table_filters value for a principal: a filter on every table of the
 * store's database, so each read of it is cut to what the principal may see. A
 * tenant: `tenant = '<tenant>'` where the table has a tenant column, no rows where
 * it has none. The operator: rows with tenant '' (or all rows, without a tenant
 * column) of OPERATOR_TABLES, no rows of any other table.
 */
export function tableFilters(schema: SchemaFacts, principal: Principal): string {
  const filterOf = (table: string, tenantColumn: boolean): string => {
    if (principal.kind === 'tenant') return tenantColumn ? `tenant = ${stringLiteral(principal.tenant)}` : '0';
    if (!OPERATOR_TABLES.has(table)) return '0';
    return tenantColumn ? "tenant = ''" : '1';
  };
  const entries = [...schema.tables].map(
    ([table, { tenant }]) =>
      `${stringLiteral(`${schema.database}.${table}`)}: ${stringLiteral(filterOf(table, tenant))}`,
  );
  return `{${entries.join(', ')}}`;
}

/**
 * The schema as last read, read again once older than `ttlMs` or when invalidated.
 * The engine is the only source: in embedded mode it is migrated in this process
 * before the endpoint starts (chdb's folder lock keeps other processes out), so
 * staleness is a bounded window for DDL run while serving. A query naming a table
 * the cached schema lacks reads the schema first (SqlGuard), so a new table is never
 * read without its filter.
 */
export class SchemaCache {
  private current: SchemaFacts | null = null;
  /** When the read that gave `current` began. */
  private readAt = Number.NEGATIVE_INFINITY;
  private loading: { at: number; facts: Promise<SchemaFacts> } | null = null;
  private generation = 0;

  private readonly read: () => Promise<string>;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(read: () => Promise<string>, ttlMs: number, now: () => number = Date.now) {
    this.read = read;
    this.ttlMs = ttlMs;
    this.now = now;
  }

  /** The schema, read now when older than the TTL or invalidated. */
  get(): Promise<SchemaFacts> {
    if (this.current !== null && this.now() - this.readAt < this.ttlMs) return Promise.resolve(this.current);
    return this.fresh(this.now() - this.ttlMs);
  }

  /** The schema as read by a read that began at `since` or later: a read in flight is shared, an older one waited for and followed. */
  async fresh(since: number): Promise<SchemaFacts> {
    for (;;) {
      if (this.current !== null && this.readAt >= since) return this.current;
      if (this.loading !== null) {
        const { at, facts } = this.loading;
        await facts.catch(() => {});
        if (at >= since && this.current !== null && this.readAt >= since) return this.current;
        continue;
      }
      const at = this.now();
      const facts = this.read().then((json) => {
        // A read that finds what the last one found keeps its generation, so guard verdicts outlive the TTL.
        const read = schemaFromRow(json, this.generation);
        if (this.current === null || !sameSchema(this.current, read)) read.generation = ++this.generation;
        this.current = read;
        this.readAt = at;
        return this.current;
      });
      this.loading = { at, facts };
      try {
        return await facts;
      } finally {
        this.loading = null;
      }
    }
  }

  /** The next get() reads the schema again (after an error naming an unknown table or column). */
  invalidate(): void {
    this.readAt = Number.NEGATIVE_INFINITY;
  }
}
