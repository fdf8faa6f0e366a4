import { CONFIG_KEYS, keyDigest, matchingKeys, parseTenantKeys } from '@aispm/core';

/** Resolves an API key to its tenant. Keys live only as SHA-256 digests in memory. */
export interface ApiKeys {
  /** The tenant the key belongs to, or null for an unknown key. */
  tenantOf(key: string): string | null;
  readonly size: number;
}

/**
 * Parses `tenant:key` entries (core's parseTenantKeys); `tenant:sha256:<64 hex>` gives the
 * key's digest instead. Throws a ConfigError naming the entry's position, never its key.
 */
export function parseApiKeys(text: string): ApiKeys {
  const { env, expected } = CONFIG_KEYS.gatewayKeys;
  const entries = parseTenantKeys(text, env, expected);
  return {
    size: entries.length,
    // The last matching entry, as a later line overrides an earlier one.
    tenantOf: (key) => matchingKeys(entries, key).at(-1)?.tenant ?? null,
  };
}

/** The hex digest to put in a keys file instead of the key. */
export function apiKeyDigest(key: string): string {
  return `sha256:${keyDigest(key).toString('hex')}`;
}
