import { AvroCodec, loadSchemaVersions } from './codec.ts';
import type { AiEvent } from './types.ts';

/** The AI event codec: reads and writes the newest schema version, reads every older (and known newer) one. */
export function createEventCodec(schemaDir?: string): AvroCodec<AiEvent> {
  const versions = loadSchemaVersions('ai-event', schemaDir);
  const newest = versions.at(-1);
  if (!newest) throw new Error('no ai-event.v<N>.avsc found under schemas/avro');
  return new AvroCodec<AiEvent>(newest, versions);
}
