import { createHash, timingSafeEqual } from 'node:crypto';
import { CONFIG_KEYS, ConfigError } from '@aispm/core';

/** Resolves an API key to its tenant. Keys live only as SHA-256 digests in memory. */
export interface ApiKeys {
  /** The tenant the key belongs to, or null for an unknown key. */
  tenantOf(key: string): string | null;
  readonly size: number;
}

const TENANT = /^[A-Za-z0-9._-]{1,64}$/;
const DIGEST = /^sha256:([0-9a-fA-F]{64})$/;
/** A key shorter than this is guessable; a longer one than this is not a key. */
const MIN_KEY = 16;
const MAX_KEY = 512;

/**
 * Parses `tenant:key` entries (one per line or comma-separated; `#` starts a comment).
 * `tenant:sha256:<64 hex>` gives the key's digest instead, so a keys file need not hold
 * the keys themselves. Throws a ConfigError naming the entry's position, never its key.
 */
export function parseApiKeys(text: string): ApiKeys {
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
    if (problem) throw new ConfigError(CONFIG_KEYS.gatewayKeys.env, `entry ${index + 1} ${problem}`);
    const digest = DIGEST.exec(secret)?.[1];
    entries.push({ tenant, digest: digest ? Buffer.from(digest, 'hex') : sha256(secret) });
  });
  if (entries.length === 0) {
    throw new ConfigError(CONFIG_KEYS.gatewayKeys.env, `holds no keys; expected ${CONFIG_KEYS.gatewayKeys.expected}`);
  }
  return {
    size: entries.length,
    tenantOf(key) {
      if (key.length === 0 || key.length > MAX_KEY) return null;
      const digest = sha256(key);
      // Every entry is compared, in constant time, so timing tells nothing about which keys exist.
      let tenant: string | null = null;
      for (const entry of entries) if (timingSafeEqual(entry.digest, digest)) tenant = entry.tenant;
      return tenant;
    },
  };
}

/** The hex digest to put in a keys file instead of the key. */
export function apiKeyDigest(key: string): string {
  return `sha256:${sha256(key).toString('hex')}`;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
