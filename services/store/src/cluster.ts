import { StoreError } from './store-error.ts';
import { stringLiteral } from './sql-text.ts';

/**
 * The cluster layout of the migrations (`aispm migrate --cluster NAME`): the same
 * files, rendered for a ClickHouse cluster of shards and replicas.
 *
 * - Every CREATE, ALTER and DROP runs ON CLUSTER NAME, so each node gets it.
 * - A MergeTree-family table T becomes T_local, its Replicated* twin
 *   (ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/T_local',
 *   '{replica}', <the engine's own arguments>)), and T itself becomes a
 *   Distributed(NAME, <database>, T_local, <sharding key>) table over them, so
 *   reads and inserts by name work unchanged.
 * - Sharding key: cityHash64(tenant) where the table has a tenant column, so a
 *   tenant's rows, the copies a ReplacingMergeTree folds and the states an
 *   AggregatingMergeTree merges all live on one shard; rand() otherwise.
 * - A materialized view fires on the node an insert lands on, with the rows of that
 *   insert: it reads the local source table and writes the local target table, so
 *   each shard rolls up its own rows (which, sharded by tenant alike, are the rows
 *   its target's tenants need).
 * - A plain view reads the Distributed tables; a JOIN's right side reads local
 *   tables when both sides are sharded by tenant and the join matches tenant (each
 *   shard joins its own tenants), and is a GLOBAL JOIN otherwise.
 * - ALTER: column changes apply to the local and the Distributed table; the rest
 *   (ORDER BY, TTL, settings, indexes, mutations) to the local table.
 *   non_replicated_deduplication_window becomes replicated_deduplication_window.
 * - INSERT … SELECT (a backfill) runs once, on the node migrate talks to, through
 *   the Distributed tables.
 * - Inserts by name go through the Distributed tables, which queue them on the node
 *   that took them and send them on in the background unless the user's profile sets
 *   distributed_foreground_insert = 1 (then an insert returns once on its shard). A
 *   deduplication token travels with the rows to the shard's Replicated table.
 *
 * Statements are read by a small tokenizer (literals, quoted names and comments are
 * never mistaken for keywords); the tests check that the engine's own parser takes
 * every statement rendered. A statement of a form not listed here is refused rather
 * than rendered wrongly.
 */

export interface ClusterLayout {
  /** The cluster's name in the servers' remote_servers configuration. */
  cluster: string;
  /** The database the tables live in (the Distributed tables name it). */
  database: string;
}

/** What the renderer knows of each table the migrations created so far. */
export interface TableInfo {
  /** sharded: T_local + Distributed T; plain: another engine, created on every node; view: a view or materialized view. */
  kind: 'sharded' | 'plain' | 'view';
  /** The table has a tenant column: sharded by cityHash64(tenant). */
  tenant: boolean;
}

export type Catalogue = Map<string, TableInfo>;

/** The suffix of a sharded table's local (Replicated*) twin. */
export const LOCAL_SUFFIX = '_local';

const MERGE_TREE = /^(|Replacing|Summing|Aggregating|Collapsing|VersionedCollapsing|Graphite|Coalescing)MergeTree$/;
const CLUSTER_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const PLAIN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The cluster name as SQL: a plain identifier, or a string literal (ON CLUSTER and Distributed take both). */
export function clusterSql(cluster: string): string {
  if (!CLUSTER_NAME.test(cluster)) {
    throw new StoreError(
      'cluster_bad_name',
      `cluster name ${JSON.stringify(cluster)} is not a cluster name; use letters, digits, _, . and -, as in the servers' remote_servers configuration`,
    );
  }
  return PLAIN.test(cluster) ? cluster : stringLiteral(cluster);
}

/** The sharding key of a table: its tenant's hash, or rand() when it has no tenant column. */
export const shardingKey = (info: Pick<TableInfo, 'tenant'>): string => (info.tenant ? 'cityHash64(tenant)' : 'rand()');

/** The ZooKeeper/Keeper path of a local table's replicas: one per shard, per database, per table. */
export const replicaPath = (local: string): string => `/clickhouse/tables/{shard}/{database}/${local}`;

// ─── tokens ────────────────────────────────────────────────────────────────────

type TokenKind = 'word' | 'quoted' | 'string' | 'number' | 'punct' | 'space' | 'comment';
interface Token {
  kind: TokenKind;
  text: string;
  start: number;
  end: number;
}

/** Splits a statement into tokens; literals, quoted identifiers and comments are single tokens. */
export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const push = (kind: TokenKind, end: number): void => {
    tokens.push({ kind, text: sql.slice(i, end), start: i, end });
    i = end;
  };
  while (i < sql.length) {
    const c = sql[i] ?? '';
    const next = sql[i + 1];
    if (/\s/.test(c)) {
      let j = i + 1;
      while (j < sql.length && /\s/.test(sql[j] ?? '')) j += 1;
      push('space', j);
    } else if ((c === '-' && next === '-') || (c === '#' && (next === ' ' || next === '!'))) {
      const nl = sql.indexOf('\n', i);
      push('comment', nl === -1 ? sql.length : nl);
    } else if (c === '/' && next === '*') {
      let depth = 0;
      let j = i;
      while (j < sql.length) {
        if (sql.startsWith('/*', j)) {
          depth += 1;
          j += 2;
        } else if (sql.startsWith('*/', j)) {
          depth -= 1;
          j += 2;
          if (depth === 0) break;
        } else j += 1;
      }
      push('comment', j);
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < sql.length) {
        const d = sql[j];
        if (d === '\\') j += 2;
        else if (d === c) {
          if (sql[j + 1] !== c) break;
          j += 2;
        } else j += 1;
      }
      push(c === "'" ? 'string' : 'quoted', Math.min(j + 1, sql.length));
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < sql.length && /[A-Za-z0-9_$]/.test(sql[j] ?? '')) j += 1;
      push('word', j);
    } else if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < sql.length && /[0-9A-Za-z_.]/.test(sql[j] ?? '')) j += 1;
      push('number', j);
    } else {
      push('punct', i + 1);
    }
  }
  return tokens;
}

/** A statement's significant tokens (no spaces or comments), with their depth in parentheses. */
class Reader {
  readonly sql: string;
  readonly t: Token[];
  readonly depth: number[];

  constructor(sql: string) {
    this.sql = sql;
    this.t = tokenize(sql).filter((k) => k.kind !== 'space' && k.kind !== 'comment');
    let depth = 0;
    this.depth = this.t.map((k) => {
      if (k.text === ')') depth -= 1;
      const d = depth;
      if (k.text === '(') depth += 1;
      return d;
    });
  }

  /** The upper-cased word at i, or '' when it is not a word. */
  word(i: number): string {
    const k = this.t[i];
    return k?.kind === 'word' ? k.text.toUpperCase() : '';
  }

  /** True when the words from i on are `words`. */
  at(i: number, ...words: string[]): boolean {
    return words.every((w, n) => this.word(i + n) === w);
  }

  /** The index of the `)` closing the `(` at i. */
  closing(i: number): number {
    for (let j = i + 1; j < this.t.length; j += 1) {
      if (this.t[j]?.text === ')' && this.depth[j] === this.depth[i]) return j;
    }
    return this.t.length - 1;
  }

  /** The source text from token i to token j, inclusive. */
  text(i: number, j: number): string {
    return this.sql.slice(this.t[i]?.start ?? 0, this.t[j]?.end ?? this.sql.length);
  }

  /** The table name at i (a plain identifier, not database-qualified). */
  name(i: number, what: string): string {
    const k = this.t[i];
    if (k?.kind !== 'word' || this.t[i + 1]?.text === '.') {
      throw unsupported(this.sql, `${what} must be a plain, unqualified name`);
    }
    return k.text;
  }
}

/** Edits to a statement's text, applied together. */
class Edits {
  private readonly edits: { start: number; end: number; text: string }[] = [];
  replace(token: Token | undefined, text: string): void {
    if (token !== undefined) this.edits.push({ start: token.start, end: token.end, text });
  }
  insertAfter(token: Token | undefined, text: string): void {
    if (token !== undefined) this.edits.push({ start: token.end, end: token.end, text });
  }
  insertBefore(token: Token | undefined, text: string): void {
    if (token !== undefined) this.edits.push({ start: token.start, end: token.start, text });
  }
  apply(sql: string): string {
    let out = sql;
    for (const e of [...this.edits].sort((a, b) => b.start - a.start || b.end - a.end)) {
      out = out.slice(0, e.start) + e.text + out.slice(e.end);
    }
    return out;
  }
}

function unsupported(sql: string, why: string): StoreError {
  const head = sql.replace(/\s+/g, ' ').trim().slice(0, 120);
  return new StoreError(
    'cluster_unsupported_statement',
    `cannot render this statement for a cluster: ${why} (${head}…); write the migration in a form the cluster layout knows (services/store/src/cluster.ts lists them)`,
  );
}

// ─── rendering ─────────────────────────────────────────────────────────────────

/**
 * The statements that carry out `sql` (one statement of a migration, its `{{name}}`
 * values already substituted) on the cluster, in order. Updates `catalogue` with
 * the tables it creates or drops; give it the same catalogue for every statement of
 * every migration, in version order, applied or not.
 */
export function renderForCluster(sql: string, layout: ClusterLayout, catalogue: Catalogue): string[] {
  const r = new Reader(sql);
  const on = ` ON CLUSTER ${clusterSql(layout.cluster)}`;
  if (r.at(0, 'CREATE', 'TABLE')) return createTable(r, 2, layout, on, catalogue);
  if (r.at(0, 'CREATE', 'MATERIALIZED', 'VIEW')) return createView(r, 3, on, catalogue, true);
  if (r.at(0, 'CREATE', 'VIEW')) return createView(r, 2, on, catalogue, false);
  if (r.at(0, 'ALTER', 'TABLE')) return alterTable(r, on, catalogue);
  if (r.at(0, 'DROP', 'TABLE') || r.at(0, 'DROP', 'VIEW')) return drop(r, on, catalogue);
  if (r.at(0, 'INSERT', 'INTO')) return [sql];
  throw unsupported(sql, 'only CREATE TABLE, CREATE [MATERIALIZED] VIEW, ALTER TABLE, DROP and INSERT are rendered');
}

function ifNotExists(r: Reader, i: number): number {
  return r.at(i, 'IF', 'NOT', 'EXISTS') ? i + 3 : i;
}

function createTable(r: Reader, from: number, layout: ClusterLayout, on: string, catalogue: Catalogue): string[] {
  const nameAt = ifNotExists(r, from);
  const name = r.name(nameAt, 'the table');
  const open = nameAt + 1;
  if (r.t[open]?.text !== '(') throw unsupported(r.sql, 'CREATE TABLE must list its columns');
  const close = r.closing(open);
  const columns: string[] = [];
  for (let i = open + 1; i < close; i += 1) {
    if (r.depth[i] === (r.depth[open] ?? 0) + 1 && (i === open + 1 || r.t[i - 1]?.text === ',')) {
      const k = r.t[i];
      if (k !== undefined && !['INDEX', 'PROJECTION', 'CONSTRAINT'].includes(r.word(i))) {
        columns.push(k.kind === 'quoted' ? k.text.slice(1, -1) : k.text);
      }
    }
  }
  const engineAt = r.t.findIndex((k, i) => i > close && r.depth[i] === 0 && r.word(i) === 'ENGINE');
  const engineName = r.t[engineAt + 2];
  if (engineAt === -1 || r.t[engineAt + 1]?.text !== '=' || engineName?.kind !== 'word') {
    throw unsupported(r.sql, 'CREATE TABLE must name its engine (ENGINE = …)');
  }
  const info: TableInfo = { kind: 'plain', tenant: columns.includes('tenant') };
  const edits = new Edits();
  if (!MERGE_TREE.test(engineName.text)) {
    if (/^Replicated|^Distributed$/.test(engineName.text)) {
      throw unsupported(
        r.sql,
        'migrations name plain MergeTree engines; the cluster layout makes them Replicated and Distributed',
      );
    }
    edits.insertAfter(r.t[nameAt], on);
    catalogue.set(name, info);
    return [edits.apply(r.sql)];
  }
  const local = `${name}${LOCAL_SUFFIX}`;
  const replica = `${stringLiteral(replicaPath(local))}, '{replica}'`;
  edits.replace(r.t[nameAt], `${local}${on}`);
  edits.replace(engineName, `Replicated${engineName.text}`);
  if (r.t[engineAt + 3]?.text === '(') {
    const argsEmpty = r.t[engineAt + 4]?.text === ')';
    edits.insertAfter(r.t[engineAt + 3], argsEmpty ? replica : `${replica}, `);
  } else {
    edits.insertAfter(engineName, `(${replica})`);
  }
  replicatedSettings(r, edits);
  info.kind = 'sharded';
  catalogue.set(name, info);
  const exists = nameAt > from ? 'IF NOT EXISTS ' : '';
  const distributed =
    `CREATE TABLE ${exists}${name}${on} AS ${local}\n` +
    `ENGINE = Distributed(${clusterSql(layout.cluster)}, ${layout.database}, ${local}, ${shardingKey(info)})`;
  return [edits.apply(r.sql), distributed];
}

/** A Replicated table deduplicates inserts over replicated_deduplication_window; the non-replicated window does nothing there. */
function replicatedSettings(r: Reader, edits: Edits): void {
  for (const k of r.t) {
    if (k.kind === 'word' && k.text === 'non_replicated_deduplication_window') {
      edits.replace(k, 'replicated_deduplication_window');
    }
  }
}

function createView(r: Reader, from: number, on: string, catalogue: Catalogue, materialized: boolean): string[] {
  const nameAt = ifNotExists(r, from);
  const name = r.name(nameAt, 'the view');
  const edits = new Edits();
  edits.insertAfter(r.t[nameAt], on);
  let select = nameAt + 1;
  if (materialized) {
    if (!r.at(nameAt + 1, 'TO')) {
      throw unsupported(r.sql, 'a materialized view must write TO a table the migrations create');
    }
    const target = r.name(nameAt + 2, 'the view’s target');
    if (catalogue.get(target)?.kind === 'sharded') edits.replace(r.t[nameAt + 2], `${target}${LOCAL_SUFFIX}`);
    select = nameAt + 3;
  }
  const asAt = r.t.findIndex((k, i) => i >= select && r.depth[i] === 0 && r.word(i) === 'AS');
  if (asAt === -1) throw unsupported(r.sql, 'a view must be CREATE … AS SELECT');
  if (materialized) {
    // Each shard's view reads the rows inserted into its own local table.
    for (const at of tableReferences(r, asAt + 1, r.t.length)) localise(r, at, catalogue, edits);
  } else {
    joinsForCluster(r, asAt + 1, catalogue, edits);
  }
  catalogue.set(name, { kind: 'view', tenant: false });
  return [edits.apply(r.sql)];
}

/** Indexes of the table names read FROM or JOINed between tokens [from, to): not subqueries, not table functions. */
function tableReferences(r: Reader, from: number, to: number): number[] {
  const found: number[] = [];
  for (let i = from; i < to; i += 1) {
    if ((r.word(i) === 'FROM' || r.word(i) === 'JOIN') && r.t[i + 1]?.kind === 'word' && r.t[i + 2]?.text !== '(') {
      if (r.t[i + 2]?.text === '.') throw unsupported(r.sql, 'tables must be unqualified');
      found.push(i + 1);
    }
  }
  return found;
}

function localise(r: Reader, at: number, catalogue: Catalogue, edits: Edits): void {
  const name = r.t[at]?.text ?? '';
  if (catalogue.get(name)?.kind === 'sharded') edits.replace(r.t[at], `${name}${LOCAL_SUFFIX}`);
}

const CLAUSE_END = new Set([
  'WHERE',
  'GROUP',
  'ORDER',
  'LIMIT',
  'HAVING',
  'SETTINGS',
  'FORMAT',
  'UNION',
  'JOIN',
  'LEFT',
  'RIGHT',
  'INNER',
  'FULL',
  'CROSS',
  'ANY',
  'ALL',
  'GLOBAL',
  'ARRAY',
  'SEMI',
  'ANTI',
  'ASOF',
  'PREWHERE',
  'WINDOW',
  'QUALIFY',
]);

/**
 * A view's JOINs: the right side (a table or a subquery) reads local tables when it
 * and the left side are sharded by tenant and the join matches tenant; otherwise the
 * join becomes GLOBAL (the right side is read whole and sent to every shard).
 */
function joinsForCluster(r: Reader, from: number, catalogue: Catalogue, edits: Edits): void {
  const left = tableReferences(r, from, r.t.length).filter((i) => r.word(i - 1) === 'FROM');
  const leftByTenant = left.every((i) => {
    const info = catalogue.get(r.t[i]?.text ?? '');
    return info === undefined || info.kind !== 'sharded' || info.tenant;
  });
  for (let j = from; j < r.t.length; j += 1) {
    if (r.word(j) !== 'JOIN') continue;
    const depth = r.depth[j];
    const rightStart = j + 1;
    const rightEnd = r.t[rightStart]?.text === '(' ? r.closing(rightStart) : rightStart;
    const onAt = r.t.findIndex((_, i) => i > rightEnd && r.depth[i] === depth && ['ON', 'USING'].includes(r.word(i)));
    let onEnd = r.t.length;
    for (let i = onAt + 1; onAt !== -1 && i < r.t.length; i += 1) {
      if ((r.depth[i] ?? 0) < (depth ?? 0) || (r.depth[i] === depth && CLAUSE_END.has(r.word(i)))) {
        onEnd = i;
        break;
      }
    }
    const right = rightStart === rightEnd ? [rightStart] : tableReferences(r, rightStart, rightEnd);
    const sharded = right.filter((i) => catalogue.get(r.t[i]?.text ?? '')?.kind === 'sharded');
    const coLocated =
      leftByTenant &&
      sharded.every((i) => catalogue.get(r.t[i]?.text ?? '')?.tenant === true) &&
      onAt !== -1 &&
      r.t.slice(onAt, onEnd).some((k) => k.kind === 'word' && k.text === 'tenant');
    if (sharded.length === 0) continue;
    if (coLocated) {
      for (const i of right) localise(r, i, catalogue, edits);
    } else {
      // GLOBAL goes before the join's kind (GLOBAL LEFT JOIN).
      let first = j;
      while (
        first - 1 >= from &&
        r.depth[first - 1] === depth &&
        ['LEFT', 'RIGHT', 'INNER', 'FULL', 'OUTER', 'ANY', 'ALL', 'SEMI', 'ANTI', 'ASOF'].includes(r.word(first - 1))
      ) {
        first -= 1;
      }
      edits.insertBefore(r.t[first], 'GLOBAL ');
    }
  }
}

/** What an ALTER command changes: the columns (local and Distributed tables) or the local table only. */
const COLUMN_COMMAND = /^(ADD|DROP|MODIFY|RENAME|COMMENT) COLUMN\b/;

function alterTable(r: Reader, on: string, catalogue: Catalogue): string[] {
  const name = r.name(2, 'the altered table');
  const info = catalogue.get(name);
  if (info === undefined) throw unsupported(r.sql, `no earlier migration creates ${name}`);
  if (info.kind === 'view') throw unsupported(r.sql, 'ALTER of a view');
  if (info.kind === 'plain') {
    const edits = new Edits();
    edits.insertAfter(r.t[2], on);
    return [edits.apply(r.sql)];
  }
  // Commands are separated by commas outside parentheses.
  const commands: [number, number][] = [];
  let start = 3;
  for (let i = 3; i <= r.t.length; i += 1) {
    if (i === r.t.length || (r.t[i]?.text === ',' && r.depth[i] === 0)) {
      commands.push([start, i - 1]);
      start = i + 1;
    }
  }
  const local = new Edits();
  local.replace(r.t[2], `${name}${LOCAL_SUFFIX}${on}`);
  replicatedSettings(r, local);
  const out = [local.apply(r.sql)];
  const columnCommands = commands
    .map(([a, b]) => r.text(a, b))
    .filter((text) => COLUMN_COMMAND.test(text.replace(/\s+/g, ' ').toUpperCase()));
  if (columnCommands.length > 0) out.push(`ALTER TABLE ${name}${on}\n    ${columnCommands.join(',\n    ')}`);
  return out;
}

function drop(r: Reader, on: string, catalogue: Catalogue): string[] {
  const nameAt = r.at(2, 'IF', 'EXISTS') ? 4 : 2;
  const name = r.name(nameAt, 'the dropped table');
  const info = catalogue.get(name);
  catalogue.delete(name);
  const edits = new Edits();
  edits.insertAfter(r.t[nameAt], on);
  const out = [edits.apply(r.sql)];
  if (info?.kind === 'sharded') {
    const local = new Edits();
    local.replace(r.t[nameAt], `${name}${LOCAL_SUFFIX}${on}`);
    out.push(local.apply(r.sql));
  }
  return out;
}
