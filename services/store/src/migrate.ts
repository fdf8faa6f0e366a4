import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_KEYS, describeError } from '@aispm/core';
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
}

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
  await store.command(
    `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
       version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
     ) ENGINE = MergeTree ORDER BY version`,
  );
  const recorded = await store.query<{ version: number; name: string; checksum: string }>(
    `SELECT version, name, checksum FROM ${MIGRATIONS_TABLE}`,
  );
  const applied = new Map(recorded.map((m) => [m.version, m]));
  const variables = { ...MIGRATION_DEFAULTS, ...definedOf(options.variables ?? {}) };
  checkApplied(files, applied);

  const done: AppliedMigration[] = [];
  for (const migration of files.filter((f) => !applied.has(f.version))) {
    options.onApply?.(migration);
    for (const [index, statement] of migration.statements.entries()) {
      try {
        await store.command(substitute(statement.text, variables));
      } catch (err) {
        throw new StoreError(
          'migration_failed',
          `${migration.file}: statement ${index + 1} of ${migration.statements.length} (line ${statement.line}) failed: ${describeError(err)}\n` +
            `${migration.file} is not recorded as applied and the statements after this one did not run; fix it and run migrate again`,
          { cause: err, engineCode: err instanceof StoreError ? err.engineCode : undefined },
        );
      }
    }
    const record = { version: migration.version, name: migration.name, checksum: migration.checksum };
    await store.insert(MIGRATIONS_TABLE, [record]);
    done.push(record);
  }
  return done;
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
