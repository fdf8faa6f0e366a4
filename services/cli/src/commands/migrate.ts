import { parseArgs } from 'node:util';
import { loadConfig, type Logger } from '@aispm/core';
import { openStore } from '../runtime.ts';

export const MIGRATE_HELP = `Usage: aispm migrate [options]

Applies pending ClickHouse migrations (schemas/clickhouse/NNN_*.sql) to the
configured store — chdb under <data-dir>/chdb in embedded mode, the ClickHouse
server at AISPM_CLICKHOUSE_URL in distributed mode — and lists what it applied.

Options:
  --data-dir <p>   where embedded-mode data goes (default ./data, or AISPM_DATA_DIR)
  -h, --help       show this help`;

export async function migrateCommand(argv: string[], log: Logger): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(`${MIGRATE_HELP}\n`);
    return 0;
  }
  const store = await openStore(loadConfig(process.env, { dataDir: values['data-dir'] }), log);
  await store.close();
  process.stdout.write('migrations up to date\n');
  return 0;
}
