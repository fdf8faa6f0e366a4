import { createHash } from 'node:crypto';

/**
 * The engine settings that govern insert deduplication, by name. Their set differs by
 * version (deduplicate_insert and deduplicate_insert_select came in 26.x, where
 * update_insert_deduplication_token_in_dependent_materialized_views does nothing and
 * is kept for older servers), and a server refuses a setting it does not know: each
 * store asks its engine which of these it has (system.settings) and passes only those.
 */
export const DEDUP_SETTING_NAMES = [
  'insert_deduplicate',
  'deduplicate_insert',
  'deduplicate_insert_select',
  'insert_deduplication_token',
  'deduplicate_blocks_in_dependent_materialized_views',
  'update_insert_deduplication_token_in_dependent_materialized_views',
] as const;

/** The query a store runs once to learn which DEDUP_SETTING_NAMES its engine has. */
export const SUPPORTED_DEDUP_SETTINGS_SQL = `SELECT name FROM system.settings WHERE name IN (${DEDUP_SETTING_NAMES.map(
  (n) => `'${n}'`,
).join(', ')})`;

/**
 * The settings of one insert (Store InsertOptions.dedupToken), among those the engine
 * has. With a token: deduplicate by it, in the table and in every table its
 * materialized views write to (their blocks get tokens derived from it), also for an
 * INSERT … SELECT (the Avro inserts: the token, not the rows, names the block). Without
 * one: never drop an insert as a duplicate, whatever the table's window says.
 */
export function dedupSettings(
  token: string | undefined,
  supported: ReadonlySet<string>,
): Record<string, string | number> {
  const wanted: Record<string, string | number> =
    token === undefined
      ? { insert_deduplicate: 0, deduplicate_insert: 'disable', deduplicate_insert_select: 'disable' }
      : {
          insert_deduplicate: 1,
          deduplicate_insert: 'enable',
          deduplicate_insert_select: 'enable_even_for_bad_queries',
          insert_deduplication_token: token,
          deduplicate_blocks_in_dependent_materialized_views: 1,
          update_insert_deduplication_token_in_dependent_materialized_views: 1,
        };
  const out: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(wanted)) if (supported.has(name)) out[name] = value;
  return out;
}

/**
 * A deduplication token for the rows a batch writes into one table: where the batch
 * came from (e.g. stage, topic, partition and offset range) and a digest of the
 * rows. The same batch replayed writes the same rows under the same token, which the
 * engine drops; a replay that writes other rows (fewer, after a probe found some
 * stored) gets a token of its own, so no row is lost to a token it shares with rows
 * that were written.
 */
export function dedupToken(source: readonly (string | number)[], content: Iterable<Uint8Array | string>): string {
  const hash = createHash('sha256');
  for (const chunk of content) {
    hash.update(chunk);
    hash.update('\u0000');
  }
  return `${source.join('/')}#${hash.digest('hex').slice(0, 32)}`;
}
