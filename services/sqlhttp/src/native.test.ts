import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChdbStore, type StoreReader } from '@aispm/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FramingError, nativeFromBuffers, type ResultColumn } from './native.ts';

let folder: string;
let store: ChdbStore;
let reader: StoreReader;

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'aispm-native-'));
  store = await ChdbStore.open({ path: join(folder, 'chdb'), database: 'native_test' });
  // Mostly default values: the engine keeps such columns sparse in its parts.
  await store.command(
    `CREATE TABLE t (id UInt64, rare UInt32, note Nullable(String), tags Array(LowCardinality(String)))
     ENGINE = MergeTree ORDER BY id SETTINGS ratio_of_defaults_for_sparse_serialization = 0.5`,
  );
  await store.command(
    `INSERT INTO t SELECT number, if(number % 97 = 0, number, 0), if(number % 3 = 0, NULL, toString(number)),
       arrayMap(i -> toString(i % 5), range(number % 4)) FROM numbers(5000)`,
  );
  reader = store.reader();
}, 120_000);
afterAll(async () => {
  await reader?.close();
  await store?.close();
  rmSync(folder, { recursive: true, force: true });
});

const QUERIES = [
  // Many types, several blocks.
  `SELECT number AS n, toInt8(number % 100 - 50) AS i8, toFloat32(number) / 3 AS f32, toString(number) AS s,
     toFixedString(toString(number % 10), 2) AS fs, [number, number + 1] AS arr, (number, toString(number)) AS tup,
     map(toString(number % 3), number) AS m, if(number % 2 = 0, NULL, number) AS nul,
     toLowCardinality(toString(number % 7)) AS lc, toDecimal64(number, 4) AS dec, toUUID('00000000-0000-0000-0000-000000000001') AS u,
     toDate('2026-01-01') + number % 30 AS d, toDateTime64(1700000000 + number, 3) AS dt64, CAST(number % 2 AS Enum8('a' = 0, 'b' = 1)) AS e,
     toIPv4(number) AS ip, number % 2 = 0 AS b
   FROM numbers(2500) SETTINGS max_block_size = 1000`,
  // Sparse columns read from parts.
  'SELECT * FROM t ORDER BY id',
  'SELECT rare, tags FROM t WHERE id > 4000',
  // No rows.
  'SELECT 1 AS x WHERE 0',
];

async function columnsOf(sql: string): Promise<ResultColumn[]> {
  const described = await reader.query(`DESCRIBE TABLE (${sql.replace(/SETTINGS.*$/s, '')})`, {
    format: 'JSONCompactEachRow',
  });
  return Buffer.from(described.bytes)
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name, type] = JSON.parse(line) as [string, string];
      return { name, type };
    });
}

describe('nativeFromBuffers', () => {
  it.each(QUERIES)(
    'frames the engine’s Buffers output byte for byte as its own Native writer does: %s',
    async (sql) => {
      const [buffers, native] = await Promise.all([
        reader.query(sql, { format: 'Buffers' }),
        reader.query(sql, { format: 'Native' }),
      ]);
      const framed = nativeFromBuffers(buffers.bytes, await columnsOf(sql), 0);
      expect(framed.length).toBe(native.bytes.length);
      expect(framed.equals(Buffer.from(native.bytes))).toBe(true);
    },
  );

  it('writes block info and a zero serialization byte per column at revision 54460, and keeps time zones', async () => {
    const sql = "SELECT toDateTime(0, 'UTC') AS d, 'x' AS s";
    const buffers = await reader.query(sql, { format: 'Buffers' });
    const framed = nativeFromBuffers(buffers.bytes, await columnsOf(sql), 54460);
    const expected = Buffer.concat([
      Buffer.from([0x01, 0x00, 0x02, 0xff, 0xff, 0xff, 0xff, 0x00]), // block info
      Buffer.from([2, 1]), // columns, rows
      Buffer.from([1]),
      Buffer.from('d'),
      Buffer.from([15]),
      Buffer.from("DateTime('UTC')"),
      Buffer.from([0]), // no custom serialization
      Buffer.from([0, 0, 0, 0]), // 1970-01-01 00:00:00
      Buffer.from([1]),
      Buffer.from('s'),
      Buffer.from([6]),
      Buffer.from('String'),
      Buffer.from([0]),
      Buffer.from([1]),
      Buffer.from('x'),
    ]);
    expect(framed.toString('hex')).toBe(expected.toString('hex'));
  });

  it('refuses output that does not frame: a header of another width, a column past the end', async () => {
    const sql = 'SELECT 1 AS a, 2 AS b';
    const buffers = (await reader.query(sql, { format: 'Buffers' })).bytes;
    expect(() => nativeFromBuffers(buffers, [{ name: 'a', type: 'UInt8' }], 54460)).toThrow(FramingError);
    const columns = await columnsOf(sql);
    expect(() => nativeFromBuffers(buffers.subarray(0, buffers.length - 1), columns, 54460)).toThrow(
      /runs past the end/,
    );
  });
});
