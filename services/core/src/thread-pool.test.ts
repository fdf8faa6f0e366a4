import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * In a process of its own (the pool starts once per process): six chdb connections
 * each run a statement that sleeps 0.3 s, all at once; prints the milliseconds.
 */
const script = `
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
if (process.argv[1] === 'sized') (await import('./thread-pool.ts')).sizeThreadPool();
const { Session } = await import('chdb');
const path = mkdtempSync(join(tmpdir(), 'aispm-pool-'));
const sessions = Array.from({ length: 6 }, () => new Session(path));
const started = performance.now();
await Promise.all(sessions.map((s) => s.queryAsync('SELECT sleep(0.3)')));
console.log(Math.round(performance.now() - started));
for (const s of sessions) s.close();
rmSync(path, { recursive: true, force: true });
`;

async function sixSleepsMs(sized: boolean): Promise<number> {
  const env = { ...process.env };
  delete env.UV_THREADPOOL_SIZE;
  const args = ['--input-type=module', '-e', script, sized ? 'sized' : 'default'];
  const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: import.meta.dirname, env });
  return Number(stdout.trim());
}

describe('sizeThreadPool', () => {
  it("lets six chdb statements run at once, where libuv's default 4 threads take two rounds", async () => {
    const [unsized, sized] = await Promise.all([sixSleepsMs(false), sixSleepsMs(true)]);
    expect(unsized).toBeGreaterThanOrEqual(600);
    expect(sized).toBeGreaterThanOrEqual(300);
    expect(sized).toBeLessThan(550);
  });
});
