import type { Checkpoint } from './checkpoint.ts';

/**
 * Where checkpoints go and come back from: the compacted changelog topic in
 * distributed mode (changelog.ts), the store in embedded mode (table.ts).
 */
export interface StateBackend {
  /** Durably writes checkpoints; a later checkpoint of a key supersedes earlier ones. */
  save(checkpoints: readonly Checkpoint[]): Promise<void>;
  /** The newest checkpoint of every key that was last checkpointed from one of these partitions. */
  load(partitions: readonly number[]): Promise<Checkpoint[]>;
  close(): Promise<void>;
}
