import { AispmError } from '@aispm/core';

/**
 * A Store operation failed. `code` says what kind of failure (store_query_failed,
 * store_unreachable, migration_checksum_mismatch, …); `engineCode` is ClickHouse's
 * own error number when the engine raised it (62 syntax, 60 unknown table, …), the
 * same on chdb and on a server.
 */
export class StoreError extends AispmError {
  readonly engineCode: number | undefined;

  constructor(code: string, message: string, options?: { cause?: unknown; engineCode?: number | undefined }) {
    super(code, message, options);
    this.name = 'StoreError';
    this.engineCode = options?.engineCode;
  }
}

const EXCERPT_CHARS = 300;

/** The start of a statement for an error message: enough to recognise it, never the bound values (they are not in the text). */
export function excerpt(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > EXCERPT_CHARS ? `${flat.slice(0, EXCERPT_CHARS)}…` : flat;
}
