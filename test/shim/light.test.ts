import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');

/**
 * In a fresh process, as an app would: imports @aispm/shim, registers it with a
 * Kafka exporter (which loads kafkajs), and reports every module URL resolved
 * (a module.registerHooks resolve hook sees import and require alike), the CommonJS
 * module cache, and whether kafkajs's modules are kafkajs's own.
 */
const script = `
import { createRequire, registerHooks } from 'node:module';
const urls = [];
registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); urls.push(r.url); return r; } });
const { register } = await import('@aispm/shim');
const shim = register({ service: 'app', exporter: { kind: 'kafka', brokers: ['127.0.0.1:1'], topic: 't' }, warn: () => {} });
const require = createRequire(process.cwd() + '/app.js');
const cached = (id) => require.cache[require.resolve(id)]?.exports;
const encoder = cached('kafkajs/src/protocol/encoder.js');
const queue = cached('kafkajs/src/network/requestQueue/index.js');
console.log(JSON.stringify({
  urls,
  cache: Object.keys(require.cache),
  encoder: encoder === undefined ? 'not loaded' : String(encoder),
  grouping: String(cached('kafkajs/src/producer/groupMessagesPerPartition.js')),
  crc32c: String(cached('kafkajs/src/protocol/recordBatch/crc32C/index.js')),
  scheduleCheckPendingRequests: String(queue.prototype.scheduleCheckPendingRequests),
}));
await shim.shutdown();
`;

describe('the shim in an app', () => {
  it('loads no store, no engine, no pipeline package, and leaves kafkajs as shipped', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: root,
    });
    const loaded = JSON.parse(stdout) as {
      urls: string[];
      cache: string[];
      encoder: string;
      grouping: string;
      crc32c: string;
      scheduleCheckPendingRequests: string;
    };
    const all = [...loaded.urls, ...loaded.cache];
    expect(all.some((u) => u.includes('/services/shim/'))).toBe(true);
    expect(all.some((u) => u.includes('/services/core/'))).toBe(true);
    const forbidden = all.filter((u) =>
      /\/(chdb|@chdb|@clickhouse)\/|\/services\/(bus|store)\/|\/@aispm\/(bus|store)\//.test(u),
    );
    expect(forbidden).toEqual([]);
    expect(loaded.cache.some((p) => p.includes('/node_modules/kafkajs/'))).toBe(true);
    // kafkajs's own code (bus/src/kafkajs.ts replaces each of these in aispm's own processes).
    expect(loaded.encoder).toContain('this.buf = Buffer.alloc(Encoder.nextPowerOfTwo(initialSize))');
    expect(loaded.grouping).toContain('[...current, message]');
    // kafkajs loads its CRC32C module on first produce; when loaded, it must be its own.
    expect(loaded.crc32c === 'undefined' || loaded.crc32c.includes('unsigned(crc32C(buffer))')).toBe(true);
    expect(loaded.scheduleCheckPendingRequests).toContain('this.throttledUntil - Date.now()');
  });
});
