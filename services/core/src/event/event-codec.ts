import { createCodec, type AvroCodec } from './codec.ts';
import type { AiEvent } from './types.ts';

/** The AI event codec: writes the newest schema version, reads every version under schemas/avro. */
export const createEventCodec = (schemaDir?: string): AvroCodec<AiEvent> => createCodec<AiEvent>('ai-event', schemaDir);
