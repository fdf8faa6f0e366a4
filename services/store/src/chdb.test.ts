import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import avro from 'avsc';
import { afterAll, describe, expect, it } from 'vitest';
import { ChdbStore } from './chdb.ts';
import { describeStoreContract } from './store.contract.ts';

const folder = mkdtempSync(join(tmpdir(), 'aispm-chdb-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describeStoreContract({
  name: `chdb (in-process engine, data in ${folder})`,
  open: (database) => ChdbStore.open({ path: folder, database }),
});

describe('ChdbStore', () => {
  it('runs concurrent calls one after another, and close() waits for them', async () => {
    const store = new ChdbStore({ path: folder, database: 'concurrency' });
    await store.command('CREATE TABLE IF NOT EXISTS n (i UInt32) ENGINE = MergeTree ORDER BY i');
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      calls.push(store.insert('n', [{ i }]));
      calls.push(store.query('SELECT count() AS c FROM n WHERE i <= {i:UInt32}', { i }));
    }
    const closed = store.close();
    const results = await Promise.all(calls);
    await closed;
    // Queued in order: each count sees exactly the inserts queued before it.
    expect(results.filter((_, k) => k % 2 === 1)).toEqual(Array.from({ length: 40 }, (_, i) => [{ c: String(i + 1) }]));
  });

  it("runs with the engine's MergeTree settings, from a configuration file only its owner can read", async () => {
    const store = await ChdbStore.open({ path: folder, database: 'engine' });
    try {
      const [setting] = await store.query<{ value: string; changed: number }>(
        "SELECT value, changed FROM system.merge_tree_settings WHERE name = 'merge_selector_base'",
      );
      expect(setting).toEqual({ value: '20', changed: 1 });
      expect(statSync(join(folder, 'aispm-engine.xml')).mode & 0o777).toBe(0o600);
    } finally {
      await store.close();
    }
  });

  it('joins inserts waiting for the same table into one part, and never across a query queued between them', async () => {
    const store = new ChdbStore({ path: folder, database: 'joined' });
    try {
      await store.command('CREATE TABLE IF NOT EXISTS j (i UInt32) ENGINE = MergeTree ORDER BY i');
      await store.command('SYSTEM STOP MERGES j');
      const parts = async (): Promise<number> =>
        Number(
          (
            await store.query<{ n: string }>(
              "SELECT count() AS n FROM system.parts WHERE database = 'joined' AND table = 'j' AND active",
            )
          )[0]!.n,
        );
      // Issued together, as the processor's partitions do: one statement, one part.
      await Promise.all([0, 1, 2, 3].map((k) => store.insert('j', [{ i: 2 * k }, { i: 2 * k + 1 }])));
      expect(await parts()).toBe(1);
      const first = store.insert('j', [{ i: 100 }]);
      const count = store.query<{ c: string }>('SELECT count() AS c FROM j');
      const second = store.insert('j', [{ i: 101 }]);
      await Promise.all([first, second]);
      expect(await count).toEqual([{ c: '9' }]);
      expect(await parts()).toBe(3);
      // A refused insert fails every caller it joined.
      const joined = [store.insert('j', [{ i: 'not a number' }]), store.insert('j', [{ i: 200 }])];
      for (const call of joined) await expect(call).rejects.toMatchObject({ code: 'store_insert_failed' });
      expect(await store.query('SELECT count() AS c FROM j')).toEqual([{ c: '10' }]);
    } finally {
      await store.close();
    }
  });

  it('rewrites its Avro scratch file for each insert, so a smaller insert after a larger one reads only its own records', async () => {
    const store = new ChdbStore({ path: folder, database: 'scratch' });
    try {
      await store.command('CREATE TABLE IF NOT EXISTS a (i Int32) ENGINE = MergeTree ORDER BY i');
      const schema = JSON.stringify({ type: 'record', name: 'R', fields: [{ name: 'i', type: 'int' }] });
      const record = avro.Type.forSchema(JSON.parse(schema) as avro.Schema);
      const mapping = { structure: 'i Int32', columns: { i: 'i' } };
      const insert = (from: number, count: number): Promise<void> =>
        store.insertAvro('a', mapping, {
          schema,
          bodies: Array.from({ length: count }, (_, k) => record.toBuffer({ i: from + k })),
        });
      await insert(0, 500);
      const large = scratchSize(folder);
      await insert(1000, 2);
      // Left longer than its content, the file would hand the engine the larger insert's tail too.
      expect(scratchSize(folder)).toBeLessThan(large);
      expect(await store.query('SELECT count() AS n, max(i) AS top FROM a')).toEqual([{ n: '502', top: 1001 }]);
    } finally {
      await store.close();
    }
  });

  it('runs inserts into different tables at the same time, and a query queued after them waits for both', async () => {
    const store = new ChdbStore({ path: folder, database: 'parallel' });
    try {
      // Each row of `slow` sleeps 50 ms as its default is computed: an insert of 10 rows takes 0.5 s.
      await store.command(
        'CREATE TABLE IF NOT EXISTS slow (i UInt32, s UInt8 DEFAULT sleepEachRow(0.05)) ENGINE = MergeTree ORDER BY i',
      );
      await store.command('CREATE TABLE IF NOT EXISTS fast (i UInt32) ENGINE = MergeTree ORDER BY i');
      const settled: string[] = [];
      const slow = store
        .insert(
          'slow',
          Array.from({ length: 10 }, (_, i) => ({ i })),
        )
        .then(() => settled.push('slow'));
      const fast = store.insert('fast', [{ i: 1 }]).then(() => settled.push('fast'));
      const counts = store.query('SELECT (SELECT count() FROM slow) AS slow, (SELECT count() FROM fast) AS fast');
      await Promise.all([slow, fast]);
      // One connection for both would have finished the slow insert first.
      expect(settled).toEqual(['fast', 'slow']);
      expect(await counts).toEqual([{ slow: '10', fast: '1' }]);
    } finally {
      await store.close();
    }
  });

  it('keeps its data across close and reopen', async () => {
    const first = new ChdbStore({ path: folder, database: 'durable' });
    await first.command('CREATE TABLE IF NOT EXISTS kept (s String) ENGINE = MergeTree ORDER BY s');
    await first.insert('kept', [{ s: 'still here' }]);
    await first.close();
    const second = new ChdbStore({ path: folder, database: 'durable' });
    expect(await second.query('SELECT s FROM kept')).toEqual([{ s: 'still here' }]);
    await second.close();
  });

  it('refuses a second data folder in the same process until the first store is closed', async () => {
    const first = new ChdbStore({ path: folder, database: 'one' });
    await first.command('SELECT 1');
    const other = join(folder, 'elsewhere');
    expect(() => new ChdbStore({ path: other, database: 'two' })).toThrow(
      expect.objectContaining({
        code: 'store_path_in_use',
        message: expect.stringContaining('close that ChdbStore first') as unknown,
      }),
    );
    await first.close();
    const second = new ChdbStore({ path: other, database: 'two' });
    expect(await second.query('SELECT currentDatabase() AS db')).toEqual([{ db: 'two' }]);
    await second.close();
  });

  it('gives a column left out (or undefined) its default, also when the rows of one insert differ in shape', async () => {
    const store = new ChdbStore({ path: folder, database: 'shapes' });
    await store.command(
      "CREATE TABLE IF NOT EXISTS d (id UInt32, s String DEFAULT 'dflt', user String DEFAULT 'u') ENGINE = MergeTree ORDER BY id",
    );
    await store.insert('d', [
      { id: 1, s: 'one', user: 'a' },
      { id: 2, s: 'two', user: 'b' },
    ]);
    await store.insert('d', [
      { id: 3, s: 'three', user: 'c' },
      { id: 4, user: 'd' },
      { id: 5, s: undefined, user: 'e' },
    ]);
    await store.insert('d', [{ id: 6, s: undefined, user: 'f' }]);
    expect(await store.query('SELECT id, s, user FROM d ORDER BY id')).toEqual([
      { id: 1, s: 'one', user: 'a' },
      { id: 2, s: 'two', user: 'b' },
      { id: 3, s: 'three', user: 'c' },
      { id: 4, s: 'dflt', user: 'd' },
      { id: 5, s: 'dflt', user: 'e' },
      { id: 6, s: 'dflt', user: 'f' },
    ]);
    await store.close();
  });

  it('refuses database and table names that are not plain identifiers', async () => {
    expect(() => new ChdbStore({ path: folder, database: 'x; DROP DATABASE y' })).toThrow(
      expect.objectContaining({ code: 'store_bad_identifier' }),
    );
    const store = new ChdbStore({ path: folder, database: 'names' });
    await expect(store.insert('t (a) SELECT 1 --', [{ a: 1 }])).rejects.toMatchObject({ code: 'store_bad_identifier' });
    await store.close();
  });
});

/** Size of the one Avro scratch file in the folder (a single table has had Avro inserts, and the store is open). */
function scratchSize(path: string): number {
  const files = readdirSync(path).filter((name) => name.endsWith('-a.avro'));
  expect(files).toHaveLength(1);
  return statSync(join(path, files[0]!)).size;
}

describe('ChdbStore after a failed statement', () => {
  it("never hands the rows a statement produced before it failed to the next statement, the store's or a reader's", async () => {
    const store = await ChdbStore.open({ path: folder, database: 'failed' });
    const slow =
      "SELECT sleepEachRow(0.01) AS z, 'LEFT OVER' AS s FROM numbers(100) " +
      "SETTINGS max_execution_time = 0.05, timeout_overflow_mode = 'throw', max_block_size = 1";
    try {
      await expect(store.query(slow)).rejects.toMatchObject({ engineCode: 159 });
      expect(await store.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
      const reader = store.reader();
      await expect(reader.query(slow, { format: 'JSONEachRow' })).rejects.toMatchObject({ engineCode: 159 });
      const next = await reader.query('SELECT 2 AS two', { format: 'JSONEachRow' });
      expect(Buffer.from(next.bytes).toString('utf8')).toBe('{"two":2}\n');
      await reader.close();
    } finally {
      await store.close();
    }
  });
});

describe('ChdbStore.reader', () => {
  it('returns raw bytes in the format asked for, applies settings, refuses writes, and is closed by the store', async () => {
    const store = await ChdbStore.open({ path: folder, database: 'reader' });
    await store.command('CREATE TABLE IF NOT EXISTS r (tenant String, n UInt64) ENGINE = MergeTree ORDER BY tenant');
    await store.insert('r', [
      { tenant: 'a', n: '1' },
      { tenant: 'b', n: '2' },
    ]);
    const reader = store.reader();
    const json = await reader.query('SELECT n FROM r WHERE tenant = {t:String}', {
      format: 'JSONEachRow',
      params: { t: 'b' },
    });
    // The engine's defaults, not the store's pinned settings: 64-bit integers unquoted.
    expect(Buffer.from(json.bytes).toString()).toBe('{"n":2}\n');
    const filtered = await reader.query('SELECT tenant FROM r FORMAT TSV', {
      format: 'JSON',
      settings: { additional_table_filters: "{'reader.r': 'tenant = \\'a\\''}" },
    });
    expect(Buffer.from(filtered.bytes).toString()).toBe('a\n');
    expect(filtered.rowsRead).toBe(1);
    await expect(reader.query("INSERT INTO r VALUES ('c', 3)", { format: 'TSV' })).rejects.toMatchObject({
      engineCode: 164,
    });
    const pending = reader.query('SELECT count() FROM numbers(1000000)', { format: 'TSV' });
    await store.close();
    expect(Buffer.from((await pending).bytes).toString()).toBe('1000000\n');
    await expect(reader.query('SELECT 1', { format: 'TSV' })).rejects.toMatchObject({ code: 'store_closed' });
  });
});
