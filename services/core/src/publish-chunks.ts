import type { OutgoingRecord } from './publisher.ts';

/**
 * Kafka refuses a record batch over the broker's message.max.bytes (1 MiB by
 * default), and a produce request carries one batch per partition. Publishing in
 * chunks of at most `maxBytes` keeps every batch under the limit however the
 * records spread over partitions. Sizes count key, value and headers plus the
 * per-record framing, an upper bound of what goes on the wire.
 */
export const RECORD_OVERHEAD_BYTES = 32;

export const recordBytes = (r: OutgoingRecord): number => {
  let bytes = RECORD_OVERHEAD_BYTES + r.value.length + Buffer.byteLength(r.key);
  for (const [name, value] of Object.entries(r.headers ?? {}))
    bytes += Buffer.byteLength(name) + Buffer.byteLength(value) + 8;
  return bytes;
};

/** Consecutive chunks of `records`, each at most `maxBytes` (a record bigger than that comes alone). */
export function publishChunks(records: readonly OutgoingRecord[], maxBytes: number): OutgoingRecord[][] {
  const chunks: OutgoingRecord[][] = [];
  let chunk: OutgoingRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    const size = recordBytes(record);
    if (chunk.length > 0 && bytes + size > maxBytes) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(record);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}
