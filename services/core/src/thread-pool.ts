/** Threads in libuv's pool unless UV_THREADPOOL_SIZE says otherwise (libuv's own default is 4). */
const THREAD_POOL_SIZE = 16;

/**
 * Sizes libuv's thread pool for the chdb store. Each chdb statement holds a pool
 * thread until it ends, and the store runs one connection for queries plus one per
 * table it inserts into (@aispm/store, chdb.ts): with the default 4 threads, a fifth
 * statement, and every file operation of the process, waits for one of them.
 *
 * libuv reads UV_THREADPOOL_SIZE when the pool starts, at its first task, so call
 * this before anything uses the pool (file or DNS calls, chdb statements). A size
 * given in the environment is kept.
 */
export function sizeThreadPool(): void {
  process.env.UV_THREADPOOL_SIZE ??= String(THREAD_POOL_SIZE);
}
