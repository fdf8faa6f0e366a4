import type { Checkpoint } from './checkpoint.ts';

/**
 * Where checkpoints go and come back from: the compacted changelog topic in
 * distributed mode (changelog.ts), the store in embedded mode (table.ts).
 */
export interface StateBackend {
  /** Durably writes checkpoints; a later checkpoint of a key supersedes earlier ones. */
  save(checkpoints: readonly Checkpoint[]): Promise<void>;
  /** The newest checkpoint of every key that was last checkpointed from one of these partitions (cuts apart). */
  load(partitions: readonly number[]): Promise<Checkpoint[]>;
  /**
   * Durably records a partition's latest cuts (cuts.ts: cutCheckpoint), before the
   * first insert of a batch. Optional: without it, a replay after a restore is left
   * to the probe of stored rows (Stage.fresh), which cannot repair materialized views.
   */
  saveCuts?(cuts: Checkpoint): Promise<void>;
  /** What load() returns, and beside it the partitions' recorded cuts, in one read. With saveCuts. */
  loadWithCuts?(partitions: readonly number[]): Promise<{ checkpoints: Checkpoint[]; cuts: Checkpoint[] }>;
  close(): Promise<void>;
}

/** Checkpoints read back, split into entities' state and partitions' cuts. */
export function splitCuts(
  read: readonly Checkpoint[],
  isCut: (key: string) => boolean,
): { checkpoints: Checkpoint[]; cuts: Checkpoint[] } {
  const checkpoints: Checkpoint[] = [];
  const cuts: Checkpoint[] = [];
  for (const c of read) (isCut(c.key) ? cuts : checkpoints).push(c);
  return { checkpoints, cuts };
}
