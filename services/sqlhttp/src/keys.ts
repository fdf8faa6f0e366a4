import { ConfigError, matchingKeys, parseTenantKeys } from '@aispm/core';

/** The environment variable the read keys come from (or AISPM_SQL_KEYS_FILE, a file holding them). */
export const READ_KEYS_ENV = 'AISPM_SQL_KEYS';
/** The environment variable the operator's read keys come from (or AISPM_SQL_OPERATOR_KEYS_FILE). */
export const OPERATOR_KEYS_ENV = 'AISPM_SQL_OPERATOR_KEYS';
/** The user an operator signs in as; no tenant may have this name while operator keys are set. */
export const OPERATOR_USER = 'operator';
const EXPECTED = 'tenant:key entries, one per line or comma-separated (tenant:sha256:<64 hex> for a digest)';
const OPERATOR_EXPECTED = `${OPERATOR_USER}:key entries, one per line or comma-separated (${OPERATOR_USER}:sha256:<64 hex> for a digest)`;

/**
 * Who a signed-in client reads as: a tenant (its own rows of the store's tables) or
 * the operator (the pipeline's own tables, OPERATOR_TABLES, and no tenant's rows).
 */
export type Principal = { kind: 'tenant'; tenant: string } | { kind: 'operator' };

/** Resolves a user and key (password) to the tenant whose rows they may read. Keys live only as SHA-256 digests. */
export interface ReadKeys {
  /** The tenant, when `user` is a tenant and `key` one of its keys; null otherwise. */
  tenantOf(user: string, key: string): string | null;
  readonly tenants: readonly string[];
}

/** The operator's keys: a client signs in as user `operator` with one of them. */
export interface OperatorKeys {
  /** Whether `key` is one of the operator's keys. */
  matches(key: string): boolean;
}

/** No tenant key at all: for an endpoint that serves the operator only. */
export const NO_READ_KEYS: ReadKeys = { tenants: [], tenantOf: () => null };

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

/**
 * Parses the operator's keys, in the read keys' form with `operator` as the name:
 * `operator:key` or `operator:sha256:<64 hex>`. Throws a ConfigError naming the
 * entry's position, never its key.
 */
export function parseOperatorKeys(text: string, source: string = OPERATOR_KEYS_ENV): OperatorKeys {
  const entries = parseTenantKeys(text, source, OPERATOR_EXPECTED);
  const other = entries.findIndex((entry) => entry.tenant !== OPERATOR_USER);
  if (other >= 0) {
    throw new ConfigError(
      source,
      `entry ${other + 1} does not start with "${OPERATOR_USER}:"; expected ${OPERATOR_EXPECTED}`,
    );
  }
  return { matches: (key) => matchingKeys(entries, key).length > 0 };
}

/** The principal a user and key sign in as, or null: the operator by user name, every other user as a tenant. */
export function principalOf(
  user: string,
  key: string,
  keys: ReadKeys,
  operator: OperatorKeys | null,
): Principal | null {
  if (operator !== null && user === OPERATOR_USER) return operator.matches(key) ? { kind: 'operator' } : null;
  const tenant = keys.tenantOf(user, key);
  return tenant === null ? null : { kind: 'tenant', tenant };
}
