import { parseArgs } from 'node:util';
import { AispmError, loadConfig, type Config, type Logger } from '@aispm/core';
import { ClickHouseStore, migrate, renderMigrations } from '@aispm/store';
import { openStore } from '../runtime.ts';

export const MIGRATE_HELP = `Usage: aispm migrate [options]

Applies pending ClickHouse migrations (schemas/clickhouse/NNN_*.sql) to the
configured store — chdb under <data-dir>/chdb in embedded mode, the ClickHouse
server at AISPM_CLICKHOUSE_URL in distributed mode — and lists what it applied.

With --cluster NAME the same files are laid out on the ClickHouse cluster NAME
(a <remote_servers> entry of the servers, with Keeper for ON CLUSTER):
  - every CREATE, ALTER and DROP runs ON CLUSTER NAME;
  - each MergeTree table T becomes T_local, its Replicated* twin (path
    /clickhouse/tables/{shard}/{database}/T_local, replica {replica}: the
    servers' macros), and T a Distributed table over them, so reads and
    inserts by name work as on one server;
  - rows are sharded by cityHash64(tenant) (a tenant's rows on one shard), or
    rand() for a table without a tenant column;
  - materialized views read and write the local tables of their shard.
A database keeps the layout it was first migrated with; later runs (and
\`aispm up\`) find the cluster in it. Give the aispm user's profile
distributed_foreground_insert = 1, so that an insert the pipeline counts as
written is on its shard rather than queued on the node that took it.

Options:
  --cluster <name>  lay the tables out on this ClickHouse cluster (distributed mode)
  --print           write the SQL to stdout instead of applying it (no server needed)
  --data-dir <p>    where embedded-mode data goes (default ./data, or AISPM_DATA_DIR)
  -h, --help        show this help`;

export async function migrateCommand(argv: string[], log: Logger): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      cluster: { type: 'string' },
      print: { type: 'boolean' },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${MIGRATE_HELP}\n`);
    return 0;
  }
  const config = loadConfig(process.env, { dataDir: values['data-dir'] });
  const { cluster } = values;
  const variables = variablesOf(config);
  if (values.print) {
    const layout = cluster === undefined ? undefined : { cluster, database: config.clickhouse.database };
    process.stdout.write(renderMigrations({ variables, ...(layout ? { layout } : {}) }));
    return 0;
  }
  if (cluster === undefined) {
    const store = await openStore(config, log);
    await store.close();
    process.stdout.write('migrations up to date\n');
    return 0;
  }
  if (storeKind(config) !== 'clickhouse') {
    throw new AispmError(
      'migrate_cluster_needs_server',
      '--cluster lays the tables out on a ClickHouse cluster, and the configured store is the embedded chdb engine; ' +
        'set AISPM_MODE=distributed (or AISPM_STORE=clickhouse) and AISPM_CLICKHOUSE_URL to a server of the cluster, or add --print to see the SQL',
    );
  }
  const store = await ClickHouseStore.open({ ...config.clickhouse });
  try {
    const applied = await migrate(store, {
      cluster,
      variables,
      onApply: (m) => process.stdout.write(`applying ${m.file} on cluster ${cluster}\n`),
    });
    process.stdout.write(
      applied.length === 0
        ? 'migrations up to date\n'
        : `applied ${applied.length} migration(s) on cluster ${cluster}\n`,
    );
  } finally {
    await store.close();
  }
  return 0;
}

function storeKind(config: Config): 'chdb' | 'clickhouse' {
  if (config.store !== 'auto') return config.store;
  return config.mode === 'embedded' ? 'chdb' : 'clickhouse';
}

function variablesOf(config: Config): { rollup_retention_days?: number } {
  const retention = config.clickhouse.rollupRetentionDays;
  return retention === undefined ? {} : { rollup_retention_days: retention };
}
