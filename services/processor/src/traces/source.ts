/**
 * Where a record on the attributed topic came from, in headers the agents stage
 * reads: the events partition and a sequence number that grows with every record
 * the traces stage sends from that partition, the same on a replay.
 */
export const SOURCE_PARTITION = 'aispm.source.partition';
export const SOURCE_SEQ = 'aispm.source.seq';

/** The header value of tick records (RECORD_HEADER): they only move a partition's stream time. */
export const TICK_RECORD = 'tick';

/**
 * Ranks per source record: those its own arrival lets go take the ranks from 0,
 * those the stream time it brings lets go (expired waits) from EXPIRY_SLOT. A trace
 * holds at most AISPM_TRACE_MAX_SPANS (≤ EXPIRY_SLOT) events.
 */
export const SLOTS = 4096;
export const EXPIRY_SLOT = 2048;
/** Offsets up to this keep offset × SLOTS + rank exact in a double. */
const MAX_OFFSET = Math.floor(Number.MAX_SAFE_INTEGER / SLOTS);

export function sourceSeq(offset: bigint, slot: number): number {
  if (offset > BigInt(MAX_OFFSET))
    throw new RangeError(
      `offset ${offset} is past ${MAX_OFFSET}, the last the attributed records' sequence numbers cover`,
    );
  return Number(offset) * SLOTS + Math.min(slot, SLOTS - 1);
}

/** The source position an attributed record carries, for the agents stage's exactly-once fold. */
export function sourceOf(headers: Record<string, string>): { partition: number; offset: number } | undefined {
  const partition = headers[SOURCE_PARTITION];
  const seq = headers[SOURCE_SEQ];
  if (partition === undefined || seq === undefined) return undefined;
  return { partition: Number(partition), offset: Number(seq) };
}
