import { createCodec, type AvroCodec } from '@aispm/core';

/**
 * One partition key's state as checkpointed: the scorer's snapshot and the
 * events-log position it reflects. Every event of `key` at or below `offset`
 * on `partition` of `log` is folded into `snapshot`; replays skip them.
 */
export interface Checkpoint {
  key: string;
  log: string;
  partition: number;
  /** Decimal offset of the last event folded in. */
  offset: string;
  snapshot: Buffer;
}

/** The changelog record's value (schemas/avro/processor-state.v1.avsc); the key travels as the record key. */
export type CheckpointValue = Omit<Checkpoint, 'key'>;

export const createCheckpointCodec = (): AvroCodec<CheckpointValue> => createCodec<CheckpointValue>('processor-state');
