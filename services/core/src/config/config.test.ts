import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.ts';
import { loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('works with no configuration at all: embedded mode, one-machine defaults', () => {
    const config = loadConfig({});
    expect(config.mode).toBe('embedded');
    expect(config.dataDir).toBe('./data');
    expect(config.capture.policy).toBe('redacted');
    expect(config.topics.events).toBe('aispm.events.v1');
    expect(config.kafka.brokers).toEqual(['127.0.0.1:9092']);
  });

  it('reads and converts values from the environment', () => {
    const config = loadConfig({ AISPM_MODE: 'distributed', AISPM_PARTITIONS: '32', KAFKA_BROKERS: 'a:1, b:2' });
    expect(config.mode).toBe('distributed');
    expect(config.partitions).toBe(32);
    expect(config.kafka.brokers).toEqual(['a:1', 'b:2']);
  });

  it('lets overrides (CLI flags) win over the environment', () => {
    expect(loadConfig({ AISPM_TENANT: 'env' }, { tenant: 'flag' }).tenant).toBe('flag');
  });

  it.each([
    ['AISPM_MODE', 'cluster', /AISPM_MODE: got "cluster"; expected "embedded"/],
    ['AISPM_PARTITIONS', '0', /AISPM_PARTITIONS: got "0"; expected an integer from 1 to 1024/],
    ['KAFKA_BROKERS', 'localhost', /KAFKA_BROKERS: got "localhost"; expected comma-separated host:port/],
    ['AISPM_CLICKHOUSE_URL', 'ftp://x', /AISPM_CLICKHOUSE_URL: got "ftp:\/\/x"; expected an http\(s\) URL/],
  ])('stops on a wrong %s, naming the key and the expected form', (key, value, message) => {
    expect(() => loadConfig({ [key]: value })).toThrow(message);
    expect(() => loadConfig({ [key]: value })).toThrow(ConfigError);
  });

  it('never echoes a secret it rejects', () => {
    expect(() => loadConfig({ AISPM_CAPTURE_HMAC_KEY: 'short-secret' })).toThrow(/got \(hidden\)/);
  });

  it('requires an HMAC key for the hash capture policy', () => {
    expect(() => loadConfig({ AISPM_CAPTURE_POLICY: 'hash' })).toThrow(/AISPM_CAPTURE_HMAC_KEY: is required/);
  });

  it('reads secrets from KEY_FILE', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'aispm-config-')), 'key');
    writeFileSync(file, 'a-long-enough-hmac-secret\n');
    const config = loadConfig({ AISPM_CAPTURE_POLICY: 'hash', AISPM_CAPTURE_HMAC_KEY_FILE: file });
    expect(config.capture.hmacKey).toBe('a-long-enough-hmac-secret');
    expect(() => loadConfig({ AISPM_CLICKHOUSE_PASSWORD_FILE: '/nonexistent/pw' })).toThrow(
      /AISPM_CLICKHOUSE_PASSWORD_FILE: cannot read \/nonexistent\/pw/,
    );
  });

  it('configures the SQL endpoint: off without keys, ClickHouse-like limits, keys from AISPM_SQL_KEYS_FILE', () => {
    expect(loadConfig({}).sql).toEqual({
      keys: null,
      host: '127.0.0.1',
      port: 8123,
      maxConcurrent: 2,
      maxQueued: 64,
      maxQueryBytes: 262_144,
      maxExecutionSeconds: 30,
      maxResultBytes: 256 * 1024 * 1024,
      maxMemoryBytes: 2 * 1024 * 1024 * 1024,
      operatorKeys: null,
      guardCacheEntries: 1024,
      schemaCacheMs: 2000,
    });
    const file = join(mkdtempSync(join(tmpdir(), 'aispm-config-')), 'sql-keys');
    writeFileSync(file, 'acme:acme-read-key-0123456789\nglobex:globex-read-key-0123456789\n');
    const config = loadConfig({ AISPM_SQL_KEYS_FILE: file, AISPM_SQL_PORT: '0', AISPM_SQL_MAX_CONCURRENT: '4' });
    expect(config.sql.keys).toBe('acme:acme-read-key-0123456789\nglobex:globex-read-key-0123456789');
    expect(config.sql.port).toBe(0);
    expect(config.sql.maxConcurrent).toBe(4);
    expect(() => loadConfig({ AISPM_SQL_MAX_CONCURRENT: '0' })).toThrow(/AISPM_SQL_MAX_CONCURRENT: got "0"/);
    expect(() => loadConfig({ AISPM_SQL_KEYS_FILE: '/nonexistent/keys' })).toThrow(/AISPM_SQL_KEYS_FILE: cannot read/);
  });
});
