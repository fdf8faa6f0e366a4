import { matchingKeys, parseTenantKeys } from '@aispm/core';

/** The environment variable the read keys come from (or AISPM_SQL_KEYS_FILE, a file holding them). */
export const READ_KEYS_ENV = 'AISPM_SQL_KEYS';
const EXPECTED = 'tenant:key entries, one per line or comma-separated (tenant:sha256:<64 hex> for a digest)';

/** Resolves a user and key (password) to the tenant whose rows they may read. Keys live only as SHA-256 digests. */
export interface ReadKeys {
  /** The tenant, when `user` is a tenant and `key` one of its keys; null otherwise. */
  tenantOf(user: string, key: string): string | null;
  readonly tenants: readonly string[];
}

/**
 * Parses read keys: `tenant:key` entries (`#` starts a comment), the same form as
 * the gateway's API keys (core's parseTenantKeys). A client signs in as user
 * `tenant` with password `key`. Throws a ConfigError naming the entry's position, never its key.
 */
export function parseReadKeys(text: string, source: string = READ_KEYS_ENV): ReadKeys {
  const entries = parseTenantKeys(text, source, EXPECTED);
  return {
    tenants: [...new Set(entries.map((entry) => entry.tenant))],
    tenantOf: (user, key) => (matchingKeys(entries, key).some((entry) => entry.tenant === user) ? user : null),
  };
}
