import { ConfigError } from '@aispm/core';
import { describe, expect, it } from 'vitest';
import { apiKeyDigest, parseApiKeys } from './api-keys.ts';

describe('parseApiKeys', () => {
  it('maps keys and key digests to their tenants, and nothing else', () => {
    const keys = parseApiKeys(
      `acme:acme-0123456789abcdef # ops\nglobex:${apiKeyDigest('globex-0123456789abcdef')},x:xkey-0123456789abcdef`,
    );
    expect(keys.size).toBe(3);
    expect(keys.tenantOf('acme-0123456789abcdef')).toBe('acme');
    expect(keys.tenantOf('globex-0123456789abcdef')).toBe('globex');
    expect(keys.tenantOf('xkey-0123456789abcdef')).toBe('x');
    expect(keys.tenantOf('acme-0123456789abcdeF')).toBeNull();
    expect(keys.tenantOf('')).toBeNull();
  });

  it('refuses malformed entries by position, without echoing the key', () => {
    expect(() => parseApiKeys('acme:tiny')).toThrow(ConfigError);
    expect(() => parseApiKeys('acme:tiny')).toThrow(/entry 1 has a key shorter than 16/);
    expect(() => parseApiKeys('acme:acme-0123456789abcdef\nno-colon-here-at-all')).toThrow(/entry 2 has no ":"/);
    expect(() => parseApiKeys('bad tenant:acme-0123456789abcdef')).toThrow(/tenant/);
    expect(() => parseApiKeys('# nothing\n')).toThrow(/holds no keys/);
    try {
      parseApiKeys('acme:tiny');
    } catch (err) {
      expect((err as Error).message).not.toContain('tiny');
    }
  });
});
