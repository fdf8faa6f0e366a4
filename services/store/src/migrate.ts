import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_KEYS, describeError } from '@aispm/core';
import { LOCAL_SUFFIX, clusterSql, renderForCluster, type Catalogue, type ClusterLayout } from './cluster.ts';
import { splitStatements, type Statement } from './sql-text.ts';
import type { Store } from './store.ts';
import { StoreError } from './store-error.ts';

export const MIGRATIONS_DIR = join(import.meta.dirname, '../../../schemas/clickhouse');
/** Where applied migrations are recorded, in the store's database. */
export const MIGRATIONS_TABLE = 'aispm_migrations';

export interface MigrationFile {
  version: number;
  name: string;
  file: string;
  /** SHA-256 of the file with line endings normalised, so a checkout with CRLF is not a change. */
  checksum: string;
  statements: Statement[];
}

export interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
}

/**
 * Values a migration takes from configuration, written `{{name}}` in its SQL and
 * substituted when it runs (the file's checksum is of the text as written, so a
 * changed value is not a changed migration: it applies to what is created after).
 */
export interface MigrationVariables {
  /** Days the per-minute rollups keep a minute (AISPM_RETENTION_DAYS_ROLLUPS). */
  rollup_retention_days: number;
}

export const MIGRATION_DEFAULTS: Readonly<MigrationVariables> = {
  rollup_retention_days: CONFIG_KEYS.retentionDaysRollups.default,
};

export interface MigrateOptions {
  /** Values for the migrations' `{{name}}` placeholders; MIGRATION_DEFAULTS for those not given. */
  variables?: Partial<MigrationVariables>;
  /** The folder of NNN_name.sql files; schemas/clickhouse by default. */
  dir?: string;
  /** Called before each pending migration runs, for progress output. */
  onApply?: (migration: MigrationFile) => void;
  /**
   * The ClickHouse cluster to lay the tables out on (cluster.ts: Replicated local
   * tables, Distributed tables by the migrations' names, ON CLUSTER). Without it,
   * a database already migrated onto a cluster keeps that cluster's layout, and a
   * new one gets single-server tables. A database cannot change layout.
   */
  cluster?: string;
}

/** The statement that creates the table of applied migrations. */
const MIGRATIONS_TABLE_DDL = `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
       version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
     ) ENGINE = MergeTree ORDER BY version`;

const FILE_NAME = /^(\d{3,})_([a-z0-9_]+)\.sql$/;

/**
 * Applies the pending migrations in version order and returns them; applies
 * nothing when all are applied. Refuses to run when an applied file was changed,
 * renamed or deleted, or a new file is numbered below the newest applied one. A
 * file's statements run one by one (ClickHouse DDL has no transactions) and the
 * file is recorded after its last statement, so a file that failed halfway runs
 * again from its first statement: write statements that can run twice (IF NOT
 * EXISTS). Run it from one process at a time; nothing makes two runners take turns.
 */
export async function migrate(store: Store, options: MigrateOptions = {}): Promise<AppliedMigration[]> {
  const files = readMigrations(options.dir ?? MIGRATIONS_DIR);
  const cluster = await layoutOf(store, options.cluster);
  const layout = cluster === undefined ? undefined : { cluster, database: store.database };
  const variables = { ...MIGRATION_DEFAULTS, ...definedOf(options.variables ?? {}) };
  for (const statement of render(MIGRATIONS_TABLE_DDL, layout, new Map())) await store.command(statement);
  const recorded = await store.query<{ version: number; name: string; checksum: string }>(
    `SELECT version, name, checksum FROM ${MIGRATIONS_TABLE}`,
  );
  const applied = new Map(recorded.map((m) => [m.version, m]));
  checkApplied(files, applied);

  // The cluster layout renders every migration in order, applied or not: a pending ALTER needs to know how its table was laid out.
  const catalogue: Catalogue = new Map();
  const done: AppliedMigration[] = [];
  for (const migration of files) {
    const pending = !applied.has(migration.version);
    if (pending) options.onApply?.(migration);
    for (const [index, statement] of migration.statements.entries()) {
      try {
        const rendered = render(substitute(statement.text, variables), layout, catalogue);
        if (pending) for (const text of rendered) await store.command(text);
      } catch (err) {
        throw new StoreError(
          'migration_failed',
          `${migration.file}: statement ${index + 1} of ${migration.statements.length} (line ${statement.line}) failed: ${describeError(err)}\n` +
            `${migration.file} is not recorded as applied and the statements after this one did not run; fix it and run migrate again`,
          { cause: err, engineCode: err instanceof StoreError ? err.engineCode : undefined },
        );
      }
    }
    if (!pending) continue;
    const record = { version: migration.version, name: migration.name, checksum: migration.checksum };
    // On a cluster, into this node's shard directly: a Distributed insert is queued and sent later, and the next run must see it.
    await store.insert(layout === undefined ? MIGRATIONS_TABLE : `${MIGRATIONS_TABLE}${LOCAL_SUFFIX}`, [record]);
    done.push(record);
  }
  return done;
}

function render(sql: string, layout: ClusterLayout | undefined, catalogue: Catalogue): string[] {
  return layout === undefined ? [sql] : renderForCluster(sql, layout, catalogue);
}

/**
 * The cluster the database is laid out on, or undefined for single-server tables:
 * as the table of applied migrations says (a Distributed table names its cluster),
 * else `wanted`. Refuses a layout other than the database's.
 */
async function layoutOf(store: Store, wanted: string | undefined): Promise<string | undefined> {
  if (wanted !== undefined) clusterSql(wanted);
  const [table] = await store.query<{ engine: string; engine_full: string }>(
    'SELECT engine, engine_full FROM system.tables WHERE database = {database:String} AND name = {name:String}',
    { database: store.database, name: MIGRATIONS_TABLE },
  );
  if (table === undefined) return wanted;
  const found = table.engine === 'Distributed' ? distributedCluster(table.engine_full) : undefined;
  if (found === undefined && wanted !== undefined) {
    throw new StoreError(
      'migration_layout_conflict',
      `database ${store.database} was migrated for a single server (${MIGRATIONS_TABLE} is ${table.engine}), so it cannot take the cluster layout of --cluster ${wanted}; ` +
        'migrate a new database on the cluster (AISPM_CLICKHOUSE_DATABASE) and copy the data over, or run migrate without --cluster',
    );
  }
  if (found !== undefined && wanted !== undefined && found !== wanted) {
    throw new StoreError(
      'migration_cluster_mismatch',
      `database ${store.database} is laid out on cluster ${found}, not ${wanted}; run migrate with --cluster ${found} (or without --cluster)`,
    );
  }
  return found;
}

/** The cluster of a Distributed table's engine_full, `Distributed(cluster, database, table[, key])`. */
function distributedCluster(engineFull: string): string | undefined {
  const m = /^Distributed\(\s*(?:'((?:[^'\\]|\\.)*)'|`([^`]*)`|([A-Za-z0-9_.-]+))/.exec(engineFull);
  return m === null ? undefined : (m[1] ?? m[2] ?? m[3]);
}

/**
 * The SQL that `migrate` runs on a fresh database, for reading or for running by
 * hand: the table of applied migrations, then every migration's statements, each
 * file under a comment naming it; laid out on `layout`'s cluster when given. It
 * does not record the migrations as applied.
 */
export function renderMigrations(
  options: Pick<MigrateOptions, 'dir' | 'variables'> & { layout?: ClusterLayout } = {},
): string {
  const { layout } = options;
  const files = readMigrations(options.dir ?? MIGRATIONS_DIR);
  const variables = { ...MIGRATION_DEFAULTS, ...definedOf(options.variables ?? {}) };
  const out = [
    layout === undefined
      ? '-- aispm migrations for a single server'
      : `-- aispm migrations for cluster ${layout.cluster}, database ${layout.database}`,
    ...render(MIGRATIONS_TABLE_DDL, layout, new Map()).map((s) => `${s};`),
  ];
  const catalogue: Catalogue = new Map();
  for (const migration of files) {
    out.push(`\n-- ${migration.file}`);
    for (const statement of migration.statements) {
      try {
        out.push(...render(substitute(statement.text, variables), layout, catalogue).map((s) => `${s};`));
      } catch (err) {
        throw new StoreError(
          'migration_render_failed',
          `${migration.file} (line ${statement.line}): ${describeError(err)}`,
          {
            cause: err,
          },
        );
      }
    }
  }
  return `${out.join('\n')}\n`;
}

function definedOf(values: Partial<MigrationVariables>): Partial<MigrationVariables> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
}

/** The statement with each `{{name}}` replaced by its value; refuses an unknown name or a value that is not a finite number. */
function substitute(text: string, variables: Readonly<MigrationVariables>): string {
  return text.replace(/\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}/g, (_, name: string) => {
    const value: unknown = (variables as unknown as Record<string, unknown>)[name];
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new StoreError(
        'migration_bad_variable',
        `{{${name}}} has no value (${JSON.stringify(value)}); known: ${Object.keys(MIGRATION_DEFAULTS).join(', ')}`,
      );
    }
    return String(value);
  });
}

/** The migration files of a folder in version order; refuses misnamed .sql files and duplicate versions. */
function readMigrations(dir: string): MigrationFile[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.sql'));
  } catch (err) {
    throw new StoreError(
      'migration_dir_unreadable',
      `cannot read the migrations folder ${dir}: ${describeError(err)}`,
      {
        cause: err,
      },
    );
  }
  const files = names.map((file): MigrationFile => {
    const match = FILE_NAME.exec(file);
    if (match === null) {
      throw new StoreError(
        'migration_bad_name',
        `${join(dir, file)} is not named NNN_name.sql (three or more digits, then lower-case letters, digits and _); rename it`,
      );
    }
    const text = readFileSync(join(dir, file), 'utf8').replace(/\r\n/g, '\n');
    return {
      version: Number(match[1]),
      name: match[2] ?? '',
      file,
      checksum: createHash('sha256').update(text).digest('hex'),
      statements: splitStatements(text),
    };
  });
  files.sort((a, b) => a.version - b.version);
  for (const [i, f] of files.entries()) {
    const previous = files[i - 1];
    if (previous !== undefined && previous.version === f.version) {
      throw new StoreError(
        'migration_duplicate_version',
        `${previous.file} and ${f.file} in ${dir} have the same version ${f.version}; give one of them the next free number`,
      );
    }
  }
  return files;
}

function checkApplied(files: MigrationFile[], applied: Map<number, AppliedMigration>): void {
  for (const record of applied.values()) {
    const file = files.find((f) => f.version === record.version);
    if (file === undefined) {
      throw new StoreError(
        'migration_missing',
        `migration ${record.version} (${record.name}) is applied to this database but its file is missing; restore it, or use a build whose schemas/clickhouse includes it`,
      );
    }
    if (file.name !== record.name) {
      throw new StoreError(
        'migration_conflict',
        `migration ${record.version} was applied as ${JSON.stringify(record.name)}, but the file numbered ${record.version} is ${file.file}; ` +
          'a number is never reused or renamed: restore the applied file and give the new one the next free number',
      );
    }
    if (file.checksum !== record.checksum) {
      throw new StoreError(
        'migration_checksum_mismatch',
        `${file.file} changed after it was applied (recorded checksum ${record.checksum.slice(0, 12)}…, file now ${file.checksum.slice(0, 12)}…); ` +
          'an applied migration must not change: restore the file and put the change in a new, higher-numbered migration',
      );
    }
  }
  const newest = Math.max(0, ...applied.keys());
  const late = files.find((f) => !applied.has(f.version) && f.version < newest);
  if (late !== undefined) {
    throw new StoreError(
      'migration_out_of_order',
      `${late.file} is pending but numbered below migration ${newest}, which is already applied; renumber it above ${newest}`,
    );
  }
}
