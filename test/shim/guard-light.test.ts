import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');

/** In a fresh process, as an app would: register the shim with or without guard mode and list the modules resolved. */
const script = (guard: boolean) => `
import { registerHooks } from 'node:module';
const urls = [];
registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); urls.push(r.url); return r; } });
const { register } = await import('@aispm/shim');
const shim = register({ service: 'app', exporter: { kind: 'otlp', url: 'http://127.0.0.1:1/v1/traces' }, warn: () => {}${guard ? ', guard: {}' : ''} });
await shim.guardReady().catch(() => undefined);
console.log(JSON.stringify(urls));
await shim.shutdown();
`;

async function loaded(guard: boolean): Promise<string[]> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script(guard)], {
    cwd: root,
  });
  return JSON.parse(stdout) as string[];
}

describe('guard mode in an app', () => {
  it('loads the guard engine only when guard mode is on', async () => {
    const without = await loaded(false);
    expect(without.some((u) => u.endsWith('/services/shim/src/guard-hook.ts'))).toBe(true);
    expect(without.filter((u) => u.endsWith('/services/shim/src/guard.ts'))).toEqual([]);
    const withGuard = await loaded(true);
    expect(withGuard.some((u) => u.endsWith('/services/shim/src/guard.ts'))).toBe(true);
  });
});
