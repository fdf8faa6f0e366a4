import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * In a process of its own (the flag is process-wide): drops 2 GB of 100 KB Buffers,
 * as a pipeline does with produce requests and inserts, and prints how many full
 * (major) collections ran meanwhile.
 */
const script = `
import { PerformanceObserver, constants } from 'node:perf_hooks';
if (process.argv[1] === 'tuned') (await import('./gc.ts')).tuneGarbageCollection();
let major = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) if (entry.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) major++;
}).observe({ entryTypes: ['gc'] });
const live = [];
for (let i = 0; i < 20000; i++) {
  Buffer.allocUnsafe(100_000)[0] = i;
  live.push({ i });
  if (live.length > 1000) live.length = 0;
}
setTimeout(() => console.log(major), 100);
`;

async function majorCollections(tuned: boolean): Promise<number> {
  const args = ['--input-type=module', '-e', script, tuned ? 'tuned' : 'default'];
  const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: import.meta.dirname });
  return Number(stdout.trim());
}

describe('tuneGarbageCollection', () => {
  it('stops transient Buffers from starting full collections of their own', async () => {
    const [untuned, tuned] = await Promise.all([majorCollections(false), majorCollections(true)]);
    // By default about one full collection per 64-100 MB of Buffers dropped (20-27 seen
    // here); tuned, none on an idle machine and a few on a loaded one.
    expect(untuned).toBeGreaterThanOrEqual(10);
    expect(tuned).toBeLessThanOrEqual(untuned / 4);
  });
});
