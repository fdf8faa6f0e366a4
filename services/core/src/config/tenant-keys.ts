import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../errors.ts';

const TENANT = /^[A-Za-z0-9._-]{1,64}$/;
const DIGEST = /^sha256:([0-9a-fA-F]{64})$/;
/** A key shorter than this is guessable; a longer one than this is not a key. */
const MIN_KEY = 16;
const MAX_KEY = 512;

/** One tenant's key, held only as its SHA-256 digest. */
export interface TenantKey {
  tenant: string;
  digest: Buffer;
}

/**
 * Parses `tenant:key` entries (one per line or comma-separated; `#` starts a comment):
 * the gateway's API keys and the SQL endpoint's read keys. `tenant:sha256:<64 hex>`
 * gives the key's digest instead, so a keys file need not hold the keys themselves.
 * Throws a ConfigError for `source` naming the entry's position, never its key.
 */
export function parseTenantKeys(text: string, source: string, expected: string): TenantKey[] {
  const entries: TenantKey[] = [];
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
    entries.push({ tenant, digest: digest ? Buffer.from(digest, 'hex') : keyDigest(secret) });
  });
  if (entries.length === 0) throw new ConfigError(source, `holds no keys; expected ${expected}`);
  return entries;
}

/**
 * The entries a key matches. Every entry is compared, in constant time, so timing
 * tells nothing about which keys exist.
 */
export function matchingKeys(entries: readonly TenantKey[], key: string): TenantKey[] {
  if (key.length === 0 || key.length > MAX_KEY) return [];
  const digest = keyDigest(key);
  const matches: TenantKey[] = [];
  for (const entry of entries) if (timingSafeEqual(entry.digest, digest)) matches.push(entry);
  return matches;
}

export function keyDigest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}
