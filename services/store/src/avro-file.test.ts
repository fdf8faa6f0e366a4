import { Readable } from 'node:stream';
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { avroFile } from './avro-file.ts';

const schema: avro.Schema = {
  type: 'record',
  name: 'R',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'text', type: ['null', 'string'] },
  ],
};

/** Reads a container file with avsc's own decoder, an implementation independent of avroFile(). */
async function readBack(pieces: Uint8Array[]): Promise<{ schema: unknown; records: unknown[] }> {
  const decoder = Readable.from([Buffer.concat(pieces)]).pipe(new avro.streams.BlockDecoder());
  let written: unknown;
  decoder.on('metadata', (type: avro.Type) => (written = type.schema()));
  const records: unknown[] = [];
  for await (const record of decoder) records.push({ ...(record as object) });
  return { schema: written, records };
}

describe('avroFile', () => {
  it('frames encoded bodies as a container file that an Avro reader decodes to the same records', async () => {
    const type = avro.Type.forSchema(schema);
    const records = [
      { id: 1, text: 'a' },
      { id: -2, text: null },
      { id: 2 ** 40, text: 'x'.repeat(70_000) },
    ];
    const file = avroFile(
      JSON.stringify(schema),
      records.map((r) => type.toBuffer(r)),
    );
    const read = await readBack(file);
    expect(read.schema).toEqual(type.schema());
    expect(read.records).toEqual(records);
    // A second file of the same schema, and one of no records.
    expect((await readBack(avroFile(JSON.stringify(schema), [type.toBuffer(records[1])]))).records).toEqual([
      records[1],
    ]);
    expect((await readBack(avroFile(JSON.stringify(schema), []))).records).toEqual([]);
  });
});
