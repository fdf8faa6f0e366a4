import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { upstreamModule } from './testing/kafkajs.ts';
import { fastEncoder, recordBatchCrc32c, type EncoderClass } from './kafkajs-encoding.ts';

type Op =
  | { op: 'writeInt8' | 'writeInt16' | 'writeInt32' | 'writeVarInt' | 'writeUVarInt'; value: number }
  | { op: 'writeVarLong'; value: number | bigint }
  | { op: 'writeVarIntBytes' | 'writeBytes' | 'writeBuffer'; value: Uint8Array }
  | { op: 'writeString'; value: string }
  /** Reads the bytes written so far (which joins a chunked encoder's parts) and writes on. */
  | { op: 'buffer' }
  /** Nested encoders, as kafkajs builds requests; `after` is written into them once they are in. */
  | { op: 'writeEncoder' | 'writeEncoderArray' | 'writeArray'; value: Op[][]; after: Op[] };

/** Small and large, around the 32-bit edges where the fix hands over to kafkajs's own code, and beyond 2^53. */
const varLong = fc.oneof(
  fc.integer(),
  fc.integer({ min: -(2 ** 31) - 4, max: -(2 ** 31) + 4 }),
  fc.integer({ min: 2 ** 31 - 4, max: 2 ** 31 + 4 }),
  fc.maxSafeInteger(),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
);

const flat = fc.array(
  fc.oneof(
    fc.record({ op: fc.constantFrom('writeInt8' as const), value: fc.integer({ min: -128, max: 127 }) }),
    fc.record({ op: fc.constantFrom('writeInt16' as const), value: fc.integer({ min: -32768, max: 32767 }) }),
    fc.record({ op: fc.constantFrom('writeInt32' as const, 'writeVarInt' as const), value: fc.integer() }),
    fc.record({ op: fc.constantFrom('writeUVarInt' as const), value: fc.integer({ min: 0, max: 2 ** 32 - 1 }) }),
    fc.record({ op: fc.constantFrom('writeVarLong' as const), value: varLong }),
    fc.record({
      op: fc.constantFrom('writeVarIntBytes' as const, 'writeBytes' as const, 'writeBuffer' as const),
      // Around the sizes where bytes are joined by reference (4 KiB) and buffers sealed (64 KiB).
      value: fc.oneof(fc.uint8Array({ maxLength: 3000 }), fc.uint8Array({ minLength: 4090, maxLength: 70_000 })),
    }),
    fc.record({ op: fc.constantFrom('writeString' as const), value: fc.string({ maxLength: 600 }) }),
    fc.constant({ op: 'buffer' as const }),
  ),
  { maxLength: 30 },
);

const ops: fc.Arbitrary<Op[]> = fc
  .tuple(
    flat,
    fc.array(
      fc.record({
        op: fc.constantFrom('writeEncoder' as const, 'writeEncoderArray' as const, 'writeArray' as const),
        value: fc.array(flat, { minLength: 1, maxLength: 3 }),
        after: flat,
      }),
      { maxLength: 3 },
    ),
    flat,
  )
  .map(([before, nested, after]) => [...before, ...nested, ...after]);

type Encoding = Record<string, (...args: unknown[]) => unknown> & { buffer: Buffer; size(): number };

/** Applies the steps to `encoder`, nested encoders made of `Encoder` too. */
function apply(Encoder: EncoderClass, encoder: Encoding, sequence: Op[]): Encoding {
  for (const step of sequence) {
    if (step.op === 'buffer') void encoder.buffer;
    else if (step.op === 'writeEncoder' || step.op === 'writeEncoderArray' || step.op === 'writeArray') {
      const inner = step.value.map((s) => apply(Encoder, new Encoder() as unknown as Encoding, s));
      if (step.op === 'writeEncoder') for (const e of inner) encoder.writeEncoder!(e);
      else encoder[step.op]!(inner);
      // What is written into them afterwards is not part of what was written in.
      for (const e of inner) apply(Encoder, e, step.after);
    } else {
      const value =
        step.op.endsWith('Bytes') || step.op === 'writeBuffer' ? Buffer.from(step.value as Uint8Array) : step.value;
      encoder[step.op]!(value);
    }
  }
  return encoder;
}

function encode(Encoder: EncoderClass, sequence: Op[]): { bytes: Buffer; size: number } {
  const encoder = apply(Encoder, new Encoder() as unknown as Encoding, sequence);
  const size = encoder.size();
  return { bytes: Buffer.from(encoder.buffer), size };
}

describe('kafkajs encoding fixes', () => {
  it("encode exactly what kafkajs's own Encoder does, nested, sealed and read midway (property)", () => {
    const Encoder = upstreamModule<EncoderClass>('kafkajs/src/protocol/encoder.js');
    const Fixed = fastEncoder(Encoder);
    fc.assert(
      fc.property(ops, (sequence) => {
        expect(encode(Fixed, sequence)).toEqual(encode(Encoder, sequence));
      }),
      { numRuns: 200 },
    );
  });

  it("size varlongs as kafkajs's own Encoder does (property)", () => {
    const Encoder = upstreamModule<EncoderClass>('kafkajs/src/protocol/encoder.js');
    const Fixed = fastEncoder(Encoder);
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
