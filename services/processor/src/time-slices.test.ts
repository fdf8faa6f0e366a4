import { describe, expect, it } from 'vitest';
import { inSlices, mapInSlices } from './time-slices.ts';

/** Keeps the thread busy for `ms`, as scoring a stretch of events does. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('inSlices', () => {
  it('lets I/O callbacks run between slices of a long loop, and visits every item in order', async () => {
    const visited: number[] = [];
    let visitedWhenTimerRan = -1;
    setTimeout(() => (visitedWhenTimerRan = visited.length), 0);
    // 400 items of 0.5 ms: 200 ms in one task without slicing.
    await inSlices(
      Array.from({ length: 400 }, (_, i) => i),
      (i) => {
        busy(0.5);
        visited.push(i);
      },
      8,
    );
    expect(visited).toEqual(Array.from({ length: 400 }, (_, i) => i));
    // The timer ran after the first slice (8 ms: 16 items of 0.5 ms), not at the end.
    expect(visitedWhenTimerRan).toBeGreaterThan(0);
    expect(visitedWhenTimerRan).toBeLessThanOrEqual(40);
  });

  it('runs a short loop without yielding', async () => {
    let timerRan = false;
    setImmediate(() => (timerRan = true));
    const mapped = await mapInSlices([1, 2, 3], (x) => x * 2, 50);
    expect(mapped).toEqual([2, 4, 6]);
    // Resumed without giving the loop a turn: the setImmediate callback has not run yet.
    expect(timerRan).toBe(false);
  });
});
