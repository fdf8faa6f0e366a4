/**
 * Float32 storage for the numeric state of every key's baseline: hour-of-week
 * weights, sketch buckets, categorical weights, drift window bins.
 *
 * Why not a typed array per structure: V8 charges every Float32Array about 200
 * bytes of its own (the buffer object, the view, the backing store) before its
 * data, and a key holds five such structures; that overhead alone would be half
 * the 2 KB-per-entity budget. Here blocks live in large shared chunks and a key
 * holds only integer handles.
 *
 * A handle is chunk × CHUNK_FLOATS + offset; read a block as
 * `arena.chunkOf(h)[offsetOf(h) + i]`. The float before a block holds its size.
 * Released blocks go to a free list per exact size and are handed out again
 * zero-filled; callers keep the set of sizes small (they grow in steps), so
 * reuse is high. A chunk's unused tail is at most one block.
 */
export class Arena {
  private readonly chunks: Float32Array[] = [];
  /** Next free float in the newest chunk. */
  private top = CHUNK_FLOATS;
  private readonly free = new Map<number, number[]>();
  /** Floats in live blocks (headers excluded). */
  private live = 0;

  /** A zero-filled block of `size` floats; returns its handle. */
  alloc(size: number): number {
    if (!(Number.isInteger(size) && size >= 1 && size < CHUNK_FLOATS))
      throw new RangeError(`arena block size must be an integer in [1, ${CHUNK_FLOATS - 1}], got ${size}`);
    this.live += size;
    const reused = this.free.get(size)?.pop();
    if (reused !== undefined) {
      const at = offsetOf(reused);
      this.chunkOf(reused).fill(0, at, at + size);
      return reused;
    }
    if (this.top + 1 + size > CHUNK_FLOATS) this.addChunk();
    const chunk = this.chunks.length - 1;
    const at = this.top + 1;
    (this.chunks[chunk] as Float32Array)[this.top] = size;
    this.top = at + size;
    return chunk * CHUNK_FLOATS + at;
  }

  /** Gives a block back; its handle must not be used again. */
  release(handle: number): void {
    const size = this.sizeOf(handle);
    this.live -= size;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(handle);
  }

  /** A block of `size` floats holding the first floats of `handle`'s block (the rest zero); `handle` is released. */
  resize(handle: number, size: number): number {
    const moved = this.alloc(size);
    const from = offsetOf(handle);
    const keep = Math.min(size, this.sizeOf(handle));
    this.chunkOf(moved).set(this.chunkOf(handle).subarray(from, from + keep), offsetOf(moved));
    this.release(handle);
    return moved;
  }

  sizeOf(handle: number): number {
    return this.chunkOf(handle)[offsetOf(handle) - 1] as number;
  }

  /** The chunk holding a block; index it from offsetOf(handle). */
  chunkOf(handle: number): Float32Array {
    return this.chunks[handle >>> CHUNK_BITS] as Float32Array;
  }

  /** Floats held by live blocks, and floats reserved in chunks (live, free and not yet handed out). */
  usage(): { liveFloats: number; reservedFloats: number } {
    return { liveFloats: this.live, reservedFloats: this.chunks.length * CHUNK_FLOATS };
  }

  private addChunk(): void {
    // Handles must stay below 2^31 so that the bit operations in chunkOf/offsetOf hold.
    if (this.chunks.length >= MAX_CHUNKS)
      throw new RangeError(
        `baseline arena is full (${MAX_CHUNKS} chunks of ${CHUNK_FLOATS * 4} bytes); run more processor instances so each owns fewer keys`,
      );
    this.chunks.push(new Float32Array(CHUNK_FLOATS));
    this.top = 0;
  }
}

/** 2^20 floats = 4 MiB per chunk. */
const CHUNK_BITS = 20;
const CHUNK_FLOATS = 1 << CHUNK_BITS;
const OFFSET_MASK = CHUNK_FLOATS - 1;
const MAX_CHUNKS = 1 << (31 - CHUNK_BITS);

export const offsetOf = (handle: number): number => handle & OFFSET_MASK;
