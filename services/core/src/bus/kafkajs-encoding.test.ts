import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { upstreamModule } from '../testing/kafkajs.ts';
import { recordBatchCrc32c, unzeroed, type EncoderClass } from './kafkajs-encoding.ts';

type Op =
  | { op: 'writeInt8' | 'writeInt16' | 'writeInt32' | 'writeVarInt' | 'writeUVarInt'; value: number }
  | { op: 'writeVarLong'; value: number | bigint }
  | { op: 'writeVarIntBytes' | 'writeBytes'; value: Uint8Array }
  | { op: 'writeString'; value: string };

/** Small and large, around the 32-bit edges where the fix hands over to kafkajs's own code, and beyond 2^53. */
const varLong = fc.oneof(
  fc.integer(),
  fc.integer({ min: -(2 ** 31) - 4, max: -(2 ** 31) + 4 }),
  fc.integer({ min: 2 ** 31 - 4, max: 2 ** 31 + 4 }),
  fc.maxSafeInteger(),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
);

const ops = fc.array(
  fc.oneof(
    fc.record({ op: fc.constantFrom('writeInt8' as const), value: fc.integer({ min: -128, max: 127 }) }),
    fc.record({ op: fc.constantFrom('writeInt16' as const), value: fc.integer({ min: -32768, max: 32767 }) }),
    fc.record({ op: fc.constantFrom('writeInt32' as const, 'writeVarInt' as const), value: fc.integer() }),
    fc.record({ op: fc.constantFrom('writeUVarInt' as const), value: fc.integer({ min: 0, max: 2 ** 32 - 1 }) }),
    fc.record({ op: fc.constantFrom('writeVarLong' as const), value: varLong }),
    fc.record({
      op: fc.constantFrom('writeVarIntBytes' as const, 'writeBytes' as const),
      value: fc.uint8Array({ maxLength: 3000 }),
    }),
    fc.record({ op: fc.constantFrom('writeString' as const), value: fc.string({ maxLength: 600 }) }),
  ),
  { maxLength: 40 },
);

function encode(Encoder: EncoderClass, sequence: Op[]): Buffer {
  const encoder = new Encoder() as unknown as Record<string, (value: unknown) => unknown> & { buffer: Buffer };
  for (const { op, value } of sequence) encoder[op]!(op.endsWith('Bytes') ? Buffer.from(value as Uint8Array) : value);
  return encoder.buffer;
}

describe('kafkajs encoding fixes', () => {
  it("encode exactly what kafkajs's own Encoder does, growing past its initial size (property)", () => {
    const Encoder = upstreamModule<EncoderClass>('kafkajs/src/protocol/encoder.js');
    const Fixed = unzeroed(Encoder);
    fc.assert(
      fc.property(ops, (sequence) => {
        expect(encode(Fixed, sequence)).toEqual(encode(Encoder, sequence));
      }),
      {
        numRuns: 300,
      },
    );
  });

  it("size varlongs as kafkajs's own Encoder does (property)", () => {
    const Encoder = upstreamModule<EncoderClass>('kafkajs/src/protocol/encoder.js');
    const Fixed = unzeroed(Encoder);
    fc.assert(
      fc.property(varLong, (value) => {
        expect(Fixed.sizeOfVarLong(value)).toBe(Encoder.sizeOfVarLong(value));
      }),
      { numRuns: 1000 },
    );
  });

  it("checksum record batches like kafkajs's own CRC32C (property)", () => {
    const crc = upstreamModule<(buffer: Buffer) => number>('kafkajs/src/protocol/recordBatch/crc32C/index.js');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), (bytes) => {
        expect(recordBatchCrc32c(Buffer.from(bytes))).toBe(crc(Buffer.from(bytes)));
      }),
      { numRuns: 300 },
    );
    // The check value of CRC-32C (Castagnoli) for "123456789".
    expect(recordBatchCrc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });
});
