import { setFlagsFromString } from 'node:v8';

/**
 * Counts Buffer memory within V8's heap limit instead of against a limit of its own.
 *
 * By default V8 starts a full, marking garbage collection whenever memory held by
 * ArrayBuffers (every Buffer) has grown by about 64 MB since the last one, however
 * small the heap. A pipeline process allocates Buffers by the megabyte and drops
 * them at once: kafkajs encodes each produce request through several nested
 * buffers (about 9 KB per event across the events, scores and entities topics),
 * inserts go to chdb as Buffers, fetches arrive as Buffers. In a flood round of
 * `npm run bench -- pipeline` that started two full collections a second, 34 of
 * the 47 in the round, and V8's helper threads spent 17–19 µs per event. Counted
 * within the heap's limit, the round had 9 full collections and the helpers
 * spent 7–8 µs per event; memory at its peak was about 300 MB more (1.1 → 1.4 GB
 * resident, most of it chdb's).
 *
 * The flag is process-wide and read by V8 at each allocation check, so setting it
 * at start-up takes effect for every thread, worker threads included. Call it once,
 * before the pipeline starts.
 */
export function tuneGarbageCollection(): void {
  setFlagsFromString('--external-memory-accounted-in-global-limit');
}
