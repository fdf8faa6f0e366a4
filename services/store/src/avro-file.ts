import { randomBytes } from 'node:crypto';
import avro from 'avsc';

/**
 * Avro Object Container File framing, as the Avro specification's "Object
 * Container Files" defines it: a header (magic, metadata with the writer schema,
 * a sync marker), then blocks of records, each with its count, its size and the
 * sync marker after it. Built here from record bodies already encoded (for a
 * topic), so the engine reads them as they are; avsc's own file encoder only
 * encodes values.
 */
const HEADER = avro.Type.forSchema({
  type: 'record',
  name: 'org.apache.avro.file.Header',
  fields: [
    { name: 'magic', type: { type: 'fixed', name: 'Magic', size: 4 } },
    { name: 'meta', type: { type: 'map', values: 'bytes' } },
    { name: 'sync', type: { type: 'fixed', name: 'Sync', size: 16 } },
  ],
});
const LONG = avro.Type.forSchema('long');
const MAGIC = Buffer.from('Obj\x01', 'latin1');

interface Header {
  bytes: Buffer;
  sync: Buffer;
}
/** One header per schema: a file's sync marker only has to be the same throughout that file. */
const headers = new Map<string, Header>();

function headerOf(schema: string): Header {
  let header = headers.get(schema);
  if (!header) {
    const sync = randomBytes(16);
    const meta = { 'avro.schema': Buffer.from(schema), 'avro.codec': Buffer.from('null') };
    header = { bytes: HEADER.toBuffer({ magic: MAGIC, meta, sync }), sync };
    headers.set(schema, header);
  }
  return header;
}

/** The pieces of a container file holding `bodies` (records written with `schema`, JSON text) in one block. */
export function avroFile(schema: string, bodies: readonly Uint8Array[]): Uint8Array[] {
  const { bytes, sync } = headerOf(schema);
  let size = 0;
  for (const body of bodies) size += body.length;
  return [bytes, LONG.toBuffer(bodies.length), LONG.toBuffer(size), ...bodies, sync];
}
