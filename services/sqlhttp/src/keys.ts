import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '@aispm/core';

/** The environment variable the read keys come from (or AISPM_SQL_KEYS_FILE, a file holding them). */
export const READ_KEYS_ENV = 'AISPM_SQL_KEYS';
const EXPECTED = 'tenant:key entries, one per line or comma-separated (tenant:sha256:<64 hex> for a digest)';

/** Resolves a user and key (password) to the tenant whose rows they may read. Keys live only as SHA-256 digests. */
export interface ReadKeys {
  /** The tenant, when `user` is a tenant and `key` one of its keys; null otherwise. */
  tenantOf(user: string, key: string): string | null;
  readonly tenants: readonly string[];
}

const TENANT = /^[A-Za-z0-9._-]{1,64}$/;
const DIGEST = /^sha256:([0-9a-fA-F]{64})$/;
const MIN_KEY = 16;
const MAX_KEY = 512;

/**
 * Parses read keys: `tenant:key` entries (`#` starts a comment), the same form as
 * the gateway's API keys. A client signs in as user `tenant` with password `key`.
 * Throws a ConfigError naming the entry's position, never its key.
 */
export function parseReadKeys(text: string, source: string = READ_KEYS_ENV): ReadKeys {
  const entries: { tenant: string; digest: Buffer }[] = [];
  const items = text
    .split(/[\n,]/)
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean);
  items.forEach((item, index) => {
    const colon = item.indexOf(':');
    const tenant = item.slice(0, colon);
    const secret = item.slice(colon + 1);
    const problem =
      colon < 0
        ? 'has no ":" (expected tenant:key)'
        : !TENANT.test(tenant)
          ? 'has a tenant that is not 1-64 letters, digits, . _ -'
          : !DIGEST.test(secret) && (secret.length < MIN_KEY || secret.length > MAX_KEY)
            ? `has a key shorter than ${MIN_KEY} or longer than ${MAX_KEY} characters`
            : null;
    if (problem) throw new ConfigError(source, `entry ${index + 1} ${problem}`);
    const digest = DIGEST.exec(secret)?.[1];
    entries.push({ tenant, digest: digest ? Buffer.from(digest, 'hex') : sha256(secret) });
  });
  if (entries.length === 0) throw new ConfigError(source, `holds no keys; expected ${EXPECTED}`);
  return {
    tenants: [...new Set(entries.map((entry) => entry.tenant))],
    tenantOf(user, key) {
      if (key.length === 0 || key.length > MAX_KEY) return null;
      const digest = sha256(key);
      // Every entry is compared, in constant time, so timing tells nothing about which keys exist.
      let tenant: string | null = null;
      for (const entry of entries) if (timingSafeEqual(entry.digest, digest) && entry.tenant === user) tenant = user;
      return tenant;
    },
  };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
