import { describe, expect, it } from 'vitest';
import { Arena, offsetOf } from './arena.ts';

describe('baseline arena', () => {
  it('hands out zero-filled blocks that do not overlap, and reuses released ones of the same size', () => {
    const arena = new Arena();
    const a = arena.alloc(5);
    const b = arena.alloc(5);
    arena.chunkOf(a).fill(7, offsetOf(a), offsetOf(a) + 5);
    expect(Array.from(arena.chunkOf(b).subarray(offsetOf(b), offsetOf(b) + 5))).toEqual([0, 0, 0, 0, 0]);
    arena.release(a);
    const c = arena.alloc(5);
    expect(c).toBe(a);
    expect(Array.from(arena.chunkOf(c).subarray(offsetOf(c), offsetOf(c) + 5))).toEqual([0, 0, 0, 0, 0]);
    expect(arena.usage().liveFloats).toBe(10);
  });

  it('resizes a block keeping its contents, and gives the old one back', () => {
    const arena = new Arena();
    const a = arena.alloc(3);
    arena.chunkOf(a).set([1, 2, 3], offsetOf(a));
    const grown = arena.resize(a, 6);
    expect(Array.from(arena.chunkOf(grown).subarray(offsetOf(grown), offsetOf(grown) + 6))).toEqual([1, 2, 3, 0, 0, 0]);
    expect(arena.sizeOf(grown)).toBe(6);
    expect(arena.alloc(3)).toBe(a);
  });

  it('opens a new chunk when one is full, without moving earlier blocks', () => {
    const arena = new Arena();
    const big = 600_000;
    const first = arena.alloc(big);
    arena.chunkOf(first)[offsetOf(first)] = 42;
    const second = arena.alloc(big);
    expect(arena.chunkOf(second)).not.toBe(arena.chunkOf(first));
    expect(arena.chunkOf(first)[offsetOf(first)]).toBe(42);
    expect(arena.usage().reservedFloats).toBe(2 * 2 ** 20);
  });

  it('refuses sizes it cannot hold, saying which', () => {
    expect(() => new Arena().alloc(0)).toThrow(/integer in \[1, /);
    expect(() => new Arena().alloc(2 ** 21)).toThrow(/got 2097152/);
  });
});
