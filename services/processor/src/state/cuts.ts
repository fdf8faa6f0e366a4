import type { BusRecord } from '@aispm/bus';
import type { Checkpoint } from './checkpoint.ts';

/**
 * A cut: the offsets of the first and last record of a batch whose rows were (or
 * were about to be) inserted, on one partition of the consumed topic. The inserts'
 * deduplication tokens are derived from the cut and the rows scored in it, so a
 * replay of the same cut from the same state sends the same rows under the same
 * tokens, and the engine drops what was written and writes what was not, in the
 * tables and, through the dropped blocks it passes on, in their materialized views.
 *
 * The processor records each cut in its state backend before the cut's first
 * insert, as ClickHouse's Kafka connector does, and cuts replayed records at the
 * recorded cuts after a restore (cutInto): a Kafka fetch after a restart is
 * otherwise cut at other offsets, with other tokens.
 */
export interface Cut {
  /** Decimal offsets, first and last record, inclusive. */
  first: string;
  last: string;
}

/** Cuts kept per partition: one batch per partition is in flight, so only the last may be uncommitted; a few spare. */
export const MAX_CUTS = 4;

/**
 * The state key of a partition's cuts. State keys start with a tenant, and no tenant
 * starts with a NUL, so no entity's key can be one.
 */
export const cutKey = (partition: number): string => `\u0000cuts/${partition}`;

export const isCutKey = (key: string): boolean => key.startsWith('\u0000cuts/');

/** The checkpoint recording a partition's latest cuts (the newest last). */
export function cutCheckpoint(log: string, partition: number, cuts: readonly Cut[]): Checkpoint {
  return {
    key: cutKey(partition),
    log,
    partition,
    offset: cuts.at(-1)?.last ?? '-1',
    snapshot: Buffer.from(JSON.stringify({ v: 1, cuts })),
  };
}

/** The cuts of a checkpoint written by cutCheckpoint; none when it is unreadable (then replays are probed). */
export function cutsOf(checkpoint: Checkpoint): Cut[] {
  try {
    const parsed = JSON.parse(checkpoint.snapshot.toString('utf8')) as { v?: unknown; cuts?: unknown };
    if (parsed.v !== 1 || !Array.isArray(parsed.cuts)) return [];
    return parsed.cuts.filter(
      (c): c is Cut =>
        typeof (c as Cut | null)?.first === 'string' &&
        typeof (c as Cut).last === 'string' &&
        /^\d+$/.test((c as Cut).first) &&
        /^\d+$/.test((c as Cut).last),
    );
  } catch {
    return [];
  }
}

/** The cuts with `cut` added as the newest, at most MAX_CUTS. */
export function withCut(cuts: readonly Cut[], cut: Cut): Cut[] {
  return [...cuts.filter((c) => BigInt(c.last) < BigInt(cut.first)), cut].slice(-MAX_CUTS);
}

/** Records to handle as one batch. */
export interface Segment {
  records: BusRecord[];
  /** A recorded cut, all of it: replay it as it was (no probe, the cut's own tokens). */
  replay: boolean;
  /** Part of a recorded cut, not all of it (a fetch cut short): its rows may be stored, so probe them. */
  partial: boolean;
}

/**
 * Splits a batch's records (in offset order) at the recorded cuts: each recorded cut
 * the records hold from its first to its last offset becomes a segment to replay; the
 * records between and after cuts form segments of their own. A cut the records hold
 * only part of (a replayed fetch cut short, or a smaller batch size since) cannot be
 * replayed as it was: its records form a `partial` segment.
 */
export function cutInto(records: readonly BusRecord[], cuts: readonly Cut[]): Segment[] {
  const bounds = cuts.map((c) => ({ first: BigInt(c.first), last: BigInt(c.last) }));
  // Consecutive records in the same recorded cut (index), or in none (-1).
  const runs: { records: BusRecord[]; cut: number }[] = [];
  for (const record of records) {
    const offset = BigInt(record.offset);
    const cut = bounds.findIndex((b) => offset >= b.first && offset <= b.last);
    const run = runs.at(-1);
    if (run?.cut === cut) run.records.push(record);
    else runs.push({ records: [record], cut });
  }
  return runs.map(({ records: held, cut }) => {
    const b = bounds[cut];
    if (b === undefined) return { records: held, replay: false, partial: false };
    const whole = BigInt(held[0]!.offset) === b.first && BigInt(held.at(-1)!.offset) === b.last;
    return { records: held, replay: whole, partial: !whole };
  });
}
