/**
 * Native output for clients that send `client_protocol_version` (clickhouse-go over HTTP).
 *
 * A ClickHouse server writes Native for such a client at that protocol revision:
 * each block starts with its block info, and each column's type is followed by a
 * "has custom serialization" byte. The embedded engine has no client revision and
 * writes revision 0 (no block info, no byte, DateTime without its time zone).
 * Nothing in the column data differs for the revisions served here: the engine's
 * column data is the same dense, default serialization a server sends with the
 * byte at 0. So the bytes are framed here, without decoding any column:
 *
 * - the data come from the engine's `Buffers` format, the same per-column
 *   serialization as Native (NativeWriter::writeData) with each column's byte
 *   length in front of it: UInt64 columns, UInt64 rows, then per column UInt64
 *   size and the bytes;
 * - the names and types come from `DESCRIBE` of the same statement: the header
 *   of its result, types printed in full (DateTime('UTC') stays so).
 */

/** The revisions served: custom serialization flag (54454) up to what clickhouse-go v2 sends (54460). */
export const MIN_NATIVE_REVISION = 54454;
export const MAX_NATIVE_REVISION = 54460;
const TIME_ZONE_PARAMETER_REVISION = 54337;

/**
 * Types whose serialization or name depends on the revision in ways not reproduced
 * here (aggregate function state versions, Dynamic and JSON serialization versions).
 */
export const UNFRAMEABLE_TYPE = /\b(AggregateFunction|SimpleAggregateFunction|JSON|Object|Dynamic|Variant)\(?/;

export interface ResultColumn {
  name: string;
  type: string;
}

const BLOCK_INFO = Buffer.from([
  0x01, // field 1: is_overflows
  0x00,
  0x02, // field 2: bucket_num = -1
  0xff,
  0xff,
  0xff,
  0xff,
  0x00, // end of fields
]);

function varUInt(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

function binaryString(text: string): Buffer[] {
  const bytes = Buffer.from(text, 'utf8');
  return [varUInt(bytes.length), bytes];
}

/** Thrown when the engine's Buffers output does not frame as expected: nothing is sent rather than misread bytes. */
export class FramingError extends Error {}

/**
 * Native at `revision` from the engine's `Buffers` output of a result whose header is `columns`.
 * Revision 0 gives what the engine's own Native writer gives (tests compare the two byte for byte).
 */
export function nativeFromBuffers(buffers: Uint8Array, columns: readonly ResultColumn[], revision: number): Buffer {
  const input = Buffer.from(buffers.buffer, buffers.byteOffset, buffers.byteLength);
  const headers = columns.map(({ name, type }) => {
    const shown = revision < TIME_ZONE_PARAMETER_REVISION && type.startsWith('DateTime(') ? 'DateTime' : type;
    const parts = [...binaryString(name), ...binaryString(shown)];
    if (revision >= MIN_NATIVE_REVISION) parts.push(Buffer.from([0]));
    return Buffer.concat(parts);
  });
  const out: Buffer[] = [];
  let at = 0;
  const u64 = (what: string): number => {
    if (at + 8 > input.length) throw new FramingError(`the engine's Buffers output ends inside ${what}`);
    const value = input.readBigUInt64LE(at);
    at += 8;
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new FramingError(`${what} is ${value}`);
    return Number(value);
  };
  while (at < input.length) {
    const count = u64('a block header');
    const rows = u64('a block header');
    if (count !== columns.length) {
      throw new FramingError(`a block has ${count} columns; the result's header has ${columns.length}`);
    }
    if (revision > 0) out.push(BLOCK_INFO);
    out.push(varUInt(count), varUInt(rows));
    for (let i = 0; i < count; i++) {
      const size = u64('a column size');
      if (at + size > input.length) throw new FramingError(`column ${i + 1} runs past the end of the output`);
      out.push(headers[i]!);
      // Zero rows are zero bytes of data in Native, whatever a column's state prefix.
      if (rows > 0) out.push(input.subarray(at, at + size));
      at += size;
    }
  }
  return Buffer.concat(out);
}
