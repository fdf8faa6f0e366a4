import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CORPUS, readableForms } from '../../../../test/privacy/corpus.ts';
import {
  BoundedCache,
  cleanIdentifier,
  deriveIdentifierKey,
  escapeIdentifier,
  identifierCache,
  identifierKey,
  identifierProtector,
  MAX_CACHED_INPUT,
  type IdentifierOptions,
} from './identifiers.ts';

const KEY = { policy: 'pseudonymise' as const, hmacKey: 'identifier-key-0123456789', keyFile: null };
const dir = mkdtempSync(join(tmpdir(), 'aispm-identifiers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('cleanIdentifier', () => {
  it.each([
    ['C0 controls', 'bo\u0000b\u0007\u001b[31m', 'bob[31m'],
    ['C1 controls and DEL', 'a\u0085\u009bb\u007fc', 'a bc'],
    ['bidi overrides and isolates', 'admin\u202e\u2066txt.exe\u2069\u202c', 'admintxt.exe'],
    ['zero-width characters', 'ad\u200bmi\u200dn\ufeff', 'admin'],
    ['tag characters (hidden text)', 'agent\u{e0041}\u{e0042}', 'agent'],
    ['line breaks and runs of spaces', '  billing\n\n bot\t ', 'billing bot'],
    ['lone surrogates', 'x\ud800y', 'xy'],
  ])('removes %s', (_, raw, clean) => {
    expect(cleanIdentifier(raw)).toBe(clean);
  });

  it('keeps letters of every script and emoji', () => {
    expect(cleanIdentifier('Jürgen-張伟-🤖')).toBe('Jürgen-張伟-🤖');
  });
});

describe('identifierProtector', () => {
  const protect = identifierProtector('acme', KEY);

  it('pseudonymises an email, stably per tenant and value, case-insensitively', () => {
    const one = protect('Jane.Roe@Example.com');
    expect(one).toMatch(/^\[EMAIL:[0-9a-f]{16}\]$/);
    expect(protect('jane.roe@example.com')).toBe(one);
    expect(protect('jane.roe%40example.com')).toBe(one);
    expect(identifierProtector('globex', KEY)('jane.roe@example.com')).not.toBe(one);
    expect(identifierProtector('acme', { ...KEY, hmacKey: 'another-key-0123456789' })('jane.roe@example.com')).not.toBe(
      one,
    );
  });

  it('pseudonymises phone numbers by their digits', () => {
    expect(protect('+44 20 7946 0958')).toBe(protect('+442079460958'));
    expect(protect('user:+44 20 7946 0958')).toMatch(/^user:\[PHONE:[0-9a-f]{16}\]$/);
  });

  it('masks secrets', () => {
    expect(protect(`repo:read token=${'a1B2c3D4'.repeat(3)}`)).toBe('repo:read token=[SECRET:credential]');
  });

  it('leaves ordinary identifiers alone', () => {
    for (const id of ['user-42', 'gpt-4o-2024-08-06', 'billing-bot', 'openai.RateLimitError', 'stop', 'repo:read']) {
      expect(protect(id)).toBe(id);
    }
  });

  it('bounds the result to 256 characters', () => {
    expect(protect('x'.repeat(5000))).toHaveLength(256);
  });

  it('keeps nothing readable of any corpus value used as an identifier', () => {
    for (const entry of CORPUS.filter((e) => e.identifier)) {
      const out = protect(entry.text);
      for (const form of readableForms(entry.value)) expect(out, entry.name).not.toContain(form);
    }
  });

  it('masks instead under the mask policy, and keeps under keep', () => {
    expect(identifierProtector('acme', { ...KEY, policy: 'mask' })('jane@example.com')).toBe('[EMAIL]');
    expect(identifierProtector('acme', { ...KEY, policy: 'keep' })('jane@example.com\u202e')).toBe('jane@example.com');
  });

  it('without a configured key, creates one in the key file once and reuses it', () => {
    const keyFile = join(dir, 'nested', 'identifier-hmac.key');
    const options = { policy: 'pseudonymise' as const, hmacKey: null, keyFile };
    const first = identifierProtector('acme', options)('jane@example.com');
    expect(first).toMatch(/^\[EMAIL:[0-9a-f]{16}\]$/);
    expect(readFileSync(keyFile, 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(keyFile).mode & 0o077).toBe(0);
    expect(identifierKey(options)).toBe(readFileSync(keyFile, 'utf8').trim());
    expect(identifierProtector('acme', options)('jane@example.com')).toBe(first);
  });

  it('masks when no key can be had at all', () => {
    expect(identifierProtector('acme', { policy: 'pseudonymise', hmacKey: null, keyFile: null })('a@b.io')).toBe(
      '[EMAIL]',
    );
  });

  it('derives a distinct key from the capture key', () => {
    expect(deriveIdentifierKey('capture-key-0123456789')).toMatch(/^[0-9a-f]{64}$/);
    expect(deriveIdentifierKey('capture-key-0123456789')).not.toContain('capture-key');
  });
});

describe('identifier fast paths and cache', () => {
  const token = `ghp_${'a1B2c3D4e5'.repeat(4)}`;
  const plainSecrets = [
    token,
    'AKIAIOSFODNN7EXAMPLE',
    '123-45-6789',
    'password:hunter2x',
    '4111111111111111',
    '192.168.1.20',
    'jane@example.com',
    'jane%40example.com',
    `sk-proj-${'xY7'.repeat(12)}`,
  ];

  it('cleans nothing off plain printable ASCII, and still cleans the rest', () => {
    expect(cleanIdentifier('gpt-4o-2024-08-06')).toBe('gpt-4o-2024-08-06');
    expect(cleanIdentifier('Billing Bot v2')).toBe('Billing Bot v2');
    expect(cleanIdentifier(' a  b ')).toBe('a b');
    expect(cleanIdentifier('a\u007fb')).toBe('ab');
    expect(escapeIdentifier('api.openai.com')).toBe('api.openai.com');
    expect(escapeIdentifier('a\tb')).toBe('a\\u{9}b');
  });

  it('masks a secret or PII in a short plain identifier, the first time and from the cache', () => {
    const protect = identifierProtector('acme', KEY);
    for (const value of plainSecrets) {
      const first = protect(value);
      expect(first, value).toMatch(/\[(SECRET:[a-z_]+|[A-Z0-9_]+:[0-9a-f]{16})\]/);
      expect(identifierProtector('acme', KEY)(value), value).toBe(first);
    }
    expect(protect(`fetch ${token}`)).toBe('fetch [SECRET:github_token]');
    expect(protect(`fetch ${token}`)).toBe('fetch [SECRET:github_token]');
  });

  it('keys the cache by tenant: the same value reads differently per tenant, however named', () => {
    const value = 'jane@example.com';
    const tenants = ['acme', 'globex', 'acme\u0000', 'acme\u00001', '1', ''];
    const results = tenants.map((tenant) => identifierProtector(tenant, KEY)(value));
    expect(new Set(results).size).toBe(tenants.length);
    // Again, now from the cache: each tenant gets its own.
    expect(tenants.map((tenant) => identifierProtector(tenant, KEY)(value))).toEqual(results);
    identifierCache.clear();
    expect(tenants.map((tenant) => identifierProtector(tenant, KEY)(value))).toEqual(results);
  });

  it('keys the cache by options and kinds kept, and sees options changed in place', () => {
    const options: IdentifierOptions = { ...KEY };
    const pseudonym = identifierProtector('acme', options)('jane@example.com');
    options.policy = 'mask';
    expect(identifierProtector('acme', options)('jane@example.com')).toBe('[EMAIL]');
    options.policy = 'pseudonymise';
    options.hmacKey = 'another-key-0123456789';
    expect(identifierProtector('acme', options)('jane@example.com')).not.toBe(pseudonym);
    const protect = identifierProtector('acme', KEY);
    expect(protect('10.0.0.7', { keepKinds: ['ipv4'] })).toBe('10.0.0.7');
    expect(protect('10.0.0.7')).toMatch(/^\[IPV4:[0-9a-f]{16}\]$/);
  });

  it('stays bounded', () => {
    const protect = identifierProtector('acme', KEY);
    for (let i = 0; i < 3 * identifierCache.generation; i++) protect(`user-${i}`);
    expect(identifierCache.size).toBeLessThanOrEqual(2 * identifierCache.generation);
    const size = identifierCache.size;
    const long = `${token} ${'x'.repeat(MAX_CACHED_INPUT)}`;
    expect(protect(long)).toContain('[SECRET:github_token]');
    expect(identifierCache.size).toBe(size);

    const cache = new BoundedCache<number>(4);
    for (let i = 0; i < 100; i++) cache.set(i % 2 === 0 ? 'a' : 'b', String(i), i);
    expect(cache.size).toBeLessThanOrEqual(8);
    expect(cache.get('b', '99')).toBe(99);
    expect(cache.get('a', '99')).toBeUndefined();
    expect(cache.get('a', '0')).toBeUndefined();
  });

  it('keeps what is read in the cache while newer entries come and go', () => {
    const cache = new BoundedCache<number>(4);
    cache.set('s', 'hot', 1);
    for (let i = 0; i < 40; i++) {
      cache.set('s', `cold-${i}`, i);
      expect(cache.get('s', 'hot')).toBe(1);
    }
  });
});
