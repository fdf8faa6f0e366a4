import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * MergeTree settings of the embedded engine (every table it holds). The engine
 * shares this machine's cores with the pipeline, so its background merges take
 * CPU from the processor. A merge selector base of 20 instead of ClickHouse's 5
 * merges more parts at once: each row is rewritten about half as often over its
 * life (log base 20 instead of log base 5 of how much its part grows). On the
 * pipeline bench at 30,000 events/s the merge threads went from ~30% of a core
 * to ~18%; tables keep more parts per partition (38 instead of 13 after 3.4
 * million events), which queries read without trouble. A ClickHouse server is
 * its operator's to tune: this applies to chdb only.
 */
const MERGE_TREE = { merge_selector_base: 20 } as const;

/** The engine's configuration file: MergeTree settings are server configuration, not settings a connection can pass. */
const FILE_NAME = 'aispm-engine.xml';

/**
 * Writes the engine configuration into the data folder (creating the folder)
 * and returns its path, for the connection's --config-file. Written at every
 * open, so a data folder always runs with this version's settings.
 */
export function writeEngineConfig(dataFolder: string): string {
  const folder = resolve(dataFolder);
  mkdirSync(folder, { recursive: true });
  const settings = Object.entries(MERGE_TREE)
    .map(([name, value]) => `<${name}>${value}</${name}>`)
    .join('');
  const file = join(folder, FILE_NAME);
  writeFileSync(file, `<clickhouse><merge_tree>${settings}</merge_tree></clickhouse>\n`, { mode: 0o600 });
  return file;
}
