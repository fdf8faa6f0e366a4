import { createCodec, type AvroCodec } from './codec.ts';
import { ATTRIBUTIONS, type AiEvent, type Attribution } from './types.ts';

/** The AI event codec: writes the newest schema version, reads every version under schemas/avro. */
export const createEventCodec = (schemaDir?: string): AvroCodec<AiEvent> => createCodec<AiEvent>('ai-event', schemaDir);

/**
 * The record with its attribution set, without decoding it: `attribution` is the
 * schema's last field, after the attributes map, so a record of this codec's own
 * schema with none ends in the map's end (0x00) and the union's null branch
 * (0x00); that last byte becomes the enum branch and the symbol's index. Null for
 * any other record (another schema version, or one attributed already, which ends
 * in the enum branch 0x02 and an index): encode the event instead.
 */
export function withAttribution(codec: AvroCodec<AiEvent>, bytes: Buffer, attribution: Attribution): Buffer | null {
  if (codec.ownBody(bytes) === null || bytes.at(-1) !== 0 || bytes.at(-2) !== 0) return null;
  const out = Buffer.allocUnsafe(bytes.length + 1);
  bytes.copy(out, 0, 0, bytes.length - 1);
  // Avro longs are zigzag varints: union branch 1 is 0x02, enum index i is 2i (both below 64).
  out[bytes.length - 1] = 0x02;
  out[bytes.length] = ATTRIBUTIONS.indexOf(attribution) * 2;
  return out;
}
