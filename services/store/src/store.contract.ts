import { randomBytes } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type AiEvent, createEventCodec } from '@aispm/core';
import { EVENTS_FROM_AVRO, EVENTS_TABLE, eventRow } from './event-row.ts';
import { migrate, MIGRATIONS_TABLE } from './migrate.ts';
import type { Store } from './store.ts';

export interface StoreHarness {
  /** Shown in the test titles: which implementation and engine the suite runs against. */
  name: string;
  /** Opens a store whose database (created by the store) is `database`, a fresh name. */
  open(database: string): Promise<Store>;
}

/**
 * The tests every Store implementation must pass, registered for one harness.
 * Each test works in a database of its own and drops it afterwards, so the suite
 * can run against a shared server.
 */
export function describeStoreContract(harness: StoreHarness): void {
  describe(`Store contract: ${harness.name}`, () => {
    const run = randomBytes(3).toString('hex');
    let count = 0;
    const folders: string[] = [];
    afterAll(() => {
      for (const folder of folders) rmSync(folder, { recursive: true, force: true });
    });

    /** Runs `test` on a store over a fresh database, then drops the database and closes the store. */
    async function withStore(test: (store: Store, database: string) => Promise<void>): Promise<void> {
      count += 1;
      const database = `aispm_contract_${run}_${count}`;
      const store = await harness.open(database);
      try {
        await test(store, database);
      } finally {
        await store.command(`DROP DATABASE IF EXISTS ${database}`).catch(() => {});
        await store.close();
      }
    }

    function migrationsFolder(files: Record<string, string>): string {
      const folder = mkdtempSync(join(tmpdir(), 'aispm-migrations-'));
      folders.push(folder);
      for (const [name, text] of Object.entries(files)) writeFileSync(join(folder, name), text);
      return folder;
    }

    it('migrates from scratch, then re-runs as a no-op', () =>
      withStore(async (store) => {
        const dir = migrationsFolder({
          '001_first.sql': `-- a comment; with a semicolon
CREATE TABLE IF NOT EXISTS first (id UInt32, note String DEFAULT 'a;b -- not a comment') ENGINE = MergeTree ORDER BY id;
/* a block comment;
   over lines */
INSERT INTO first (id) VALUES (1);
`,
          '002_second.sql': 'CREATE TABLE IF NOT EXISTS second (id UInt32) ENGINE = MergeTree ORDER BY id\n',
        });
        const announced: string[] = [];
        const applied = await migrate(store, { dir, onApply: (m) => announced.push(m.file) });
        expect(applied.map((m) => [m.version, m.name])).toEqual([
          [1, 'first'],
          [2, 'second'],
        ]);
        expect(announced).toEqual(['001_first.sql', '002_second.sql']);
        expect(await store.query('SELECT id, note FROM first')).toEqual([{ id: 1, note: 'a;b -- not a comment' }]);
        expect(await migrate(store, { dir })).toEqual([]);
        expect(await store.query(`SELECT count() AS n FROM ${MIGRATIONS_TABLE}`)).toEqual([{ n: '2' }]);
        expect(await store.query('SELECT count() AS n FROM first')).toEqual([{ n: '1' }]);
      }));

    it("applies the repository's migrations (schemas/clickhouse) from scratch, then re-runs as a no-op", () =>
      withStore(async (store) => {
        expect((await migrate(store)).map((m) => m.name)).toContain('events');
        expect(await migrate(store)).toEqual([]);
      }));

    it('refuses to run when an applied migration changed, was renamed or removed, or a new one is numbered too low', () =>
      withStore(async (store) => {
        const dir = migrationsFolder({
          '001_a.sql': 'CREATE TABLE IF NOT EXISTS a (id UInt32) ENGINE = MergeTree ORDER BY id;\n',
          '003_c.sql': 'CREATE TABLE IF NOT EXISTS c (id UInt32) ENGINE = MergeTree ORDER BY id;\n',
        });
        await migrate(store, { dir });

        writeFileSync(
          join(dir, '001_a.sql'),
          'CREATE TABLE IF NOT EXISTS a (id UInt64) ENGINE = MergeTree ORDER BY id;\n',
        );
        await expect(migrate(store, { dir })).rejects.toMatchObject({
          code: 'migration_checksum_mismatch',
          message: expect.stringContaining('001_a.sql changed after it was applied') as unknown,
        });
        // Line endings alone are not a change.
        writeFileSync(
          join(dir, '001_a.sql'),
          'CREATE TABLE IF NOT EXISTS a (id UInt32) ENGINE = MergeTree ORDER BY id;\r\n',
        );
        expect(await migrate(store, { dir })).toEqual([]);

        writeFileSync(join(dir, '002_b.sql'), 'SELECT 1;\n');
        await expect(migrate(store, { dir })).rejects.toMatchObject({ code: 'migration_out_of_order' });
        rmSync(join(dir, '002_b.sql'));

        renameSync(join(dir, '003_c.sql'), join(dir, '003_d.sql'));
        await expect(migrate(store, { dir })).rejects.toMatchObject({ code: 'migration_conflict' });
        rmSync(join(dir, '003_d.sql'));
        await expect(migrate(store, { dir })).rejects.toMatchObject({ code: 'migration_missing' });
      }));

    it('reports a failing migration statement with its file and line, and applies it once fixed', () =>
      withStore(async (store) => {
        const dir = migrationsFolder({
          '001_bad.sql':
            'CREATE TABLE IF NOT EXISTS ok (id UInt32) ENGINE = MergeTree ORDER BY id;\n\nCREATE TABLE broken (;\n',
        });
        const failure = migrate(store, { dir });
        await expect(failure).rejects.toMatchObject({
          code: 'migration_failed',
          engineCode: 62,
          message: expect.stringMatching(
            /001_bad\.sql: statement 2 of 2 \(line 3\) failed: .*Syntax error/s,
          ) as unknown,
        });
        expect(await store.query(`SELECT count() AS n FROM ${MIGRATIONS_TABLE}`)).toEqual([{ n: '0' }]);

        writeFileSync(
          join(dir, '001_bad.sql'),
          'CREATE TABLE IF NOT EXISTS ok (id UInt32) ENGINE = MergeTree ORDER BY id;\nCREATE TABLE IF NOT EXISTS fixed (id UInt32) ENGINE = Memory;\n',
        );
        expect((await migrate(store, { dir })).map((m) => m.version)).toEqual([1]);
      }));

    it('binds parameters as values, never as SQL, even when they look like SQL', () =>
      withStore(async (store) => {
        await store.command('CREATE TABLE people (id UInt32, name String) ENGINE = MergeTree ORDER BY id');
        const hostile = [
          "x'; DROP TABLE people; --",
          "\\' OR 1=1 --",
          '{name:String}',
          'tab\tnew\nline\r\0nul',
          'ünïcødé 🙂 中文',
        ];
        await store.insert(
          'people',
          hostile.map((name, id) => ({ id, name })),
        );
        for (const [id, name] of hostile.entries()) {
          expect(await store.query('SELECT id FROM people WHERE name = {name:String}', { name })).toEqual([{ id }]);
        }
        expect(
          await store.query('SELECT count() AS n FROM people WHERE name = {name:String}', { name: "' OR ''='" }),
        ).toEqual([{ n: '0' }]);
        expect(
          await store.query('SELECT name FROM people WHERE id IN {ids:Array(UInt32)} ORDER BY id', { ids: [0, 4] }),
        ).toEqual([{ name: hostile[0] }, { name: hostile[4] }]);
        expect(await store.query('SELECT count() AS n FROM {table:Identifier}', { table: 'people' })).toEqual([
          { n: '5' },
        ]);
        await store.command('INSERT INTO people SELECT 9, {name:String}', { name: hostile[0] });
        expect(
          await store.query('SELECT count() AS n FROM people WHERE name = {name:String}', { name: hostile[0] }),
        ).toEqual([{ n: '2' }]);
      }));

    it('round-trips types: 64-bit integers as strings, DateTime64, arrays, maps, Nullable', () =>
      withStore(async (store) => {
        await store.command(`CREATE TABLE typed (
          u UInt64, i Int64, t DateTime64(6, 'UTC'), a Array(String), m Map(LowCardinality(String), String),
          ns Nullable(String), nu Nullable(UInt32), f Float64, b Bool
        ) ENGINE = MergeTree ORDER BY u`);
        const rows = [
          {
            u: '18446744073709551615',
            i: '-9223372036854775808',
            t: '2024-02-29 23:59:59.999999',
            a: ["it's", 'ü🙂', '', 'a,b'],
            m: { 'k"1': 'v\n1', ключ: 'значение' },
            ns: null,
            nu: null,
            f: 0.1,
            b: true,
          },
          {
            u: '1',
            i: '9007199254740993',
            t: '1970-01-01 00:00:00.000001',
            a: [],
            m: {},
            ns: '',
            nu: 0,
            f: -1e300,
            b: false,
          },
        ];
        await store.insert('typed', rows);
        expect(await store.query('SELECT * FROM typed ORDER BY u DESC')).toEqual(rows);

        const bound = await store.query(
          `SELECT {u:UInt64} AS u, {i:Int64} AS i, {t:DateTime64(6, 'UTC')} AS t, {a:Array(String)} AS a,
                  {m:Map(String, String)} AS m, {ns:Nullable(String)} AS ns, {d:DateTime64(3)} AS d, {b:Bool} AS b`,
          {
            u: 18446744073709551615n,
            i: '-42',
            t: '2024-02-29 23:59:59.999999',
            a: ["it's", 'ü🙂'],
            m: { k: "v'1" },
            ns: null,
            d: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)),
            b: true,
          },
        );
        expect(bound).toEqual([
          {
            u: '18446744073709551615',
            i: '-42',
            t: '2024-02-29 23:59:59.999999',
            a: ["it's", 'ü🙂'],
            m: { k: "v'1" },
            ns: null,
            d: '2024-01-02 03:04:05.678',
            b: true,
          },
        ]);
        expect(await store.query('SELECT now() AS t, timezone() AS tz')).toEqual([
          { t: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/) as unknown, tz: 'UTC' },
        ]);
      }));

    it('inserts a batch of 100,000 rows', () =>
      withStore(async (store) => {
        await store.command(
          "CREATE TABLE big (id UInt32, name String, tags Array(String), at DateTime64(3, 'UTC')) ENGINE = MergeTree ORDER BY id",
        );
        const rows = Array.from({ length: 100_000 }, (_, id) => ({
          id,
          name: `row-${id}`,
          tags: ['a', String(id % 7)],
          at: '2024-05-06 07:08:09.123',
        }));
        await store.insert('big', rows);
        expect(
          await store.query(
            'SELECT count() AS n, sum(id) AS s, uniqExact(name) AS u, countIf(has(tags, {t:String})) AS t FROM big',
            { t: '3' },
          ),
        ).toEqual([{ n: '100000', s: '4999950000', u: '100000', t: '14286' }]);
      }));

    it('stores events from eventRow() exactly, and a replay does not double count with FINAL', () =>
      withStore(async (store) => {
        await migrate(store);
        // Yesterday (inside the table's 90-day TTL, which drops older rows as they are written), at .123456 s.
        const second = Math.floor(Date.now() / 86_400_000) * 86_400 - 86_400;
        const events = sampleEvents(second * 1_000_000 + 123_456);
        const day = new Date(second * 1000).toISOString().slice(0, 10);
        await store.insert(EVENTS_TABLE, events.map(eventRow));
        await store.insert(EVENTS_TABLE, events.map(eventRow)); // the replay
        const stored = await store.query(`SELECT * EXCEPT ingested_at FROM ${EVENTS_TABLE} FINAL ORDER BY event_id`);
        expect(stored).toEqual(events.map(eventRow));
        expect(stored.map((row) => row.time)).toEqual([
          `${day} 00:00:00.123456`,
          `${day} 00:00:00.123457`,
          `${day} 00:00:01.123455`,
        ]);
        expect(stored[0]).toMatchObject({ agent: '', user: '', input_tokens: null, content_completion: '' });
        expect(
          await store.query(
            `SELECT count() AS n FROM ${EVENTS_TABLE} FINAL
             WHERE tenant = {tenant:String} AND time >= {from:DateTime64(6, 'UTC')}`,
            { tenant: 'acme', from: `${day} 00:00:00.123456` },
          ),
        ).toEqual([{ n: '3' }]);
        expect(await store.query(`SELECT uniqExact(event_id) AS n FROM ${EVENTS_TABLE}`)).toEqual([{ n: '3' }]);
      }));

    it('stores events from their Avro records (insertAvro with EVENTS_FROM_AVRO) exactly as from eventRow()', () =>
      withStore(async (store) => {
        await migrate(store);
        const second = Math.floor(Date.now() / 86_400_000) * 86_400 - 86_400;
        const events = sampleEvents(second * 1_000_000 + 123_456);
        const codec = createEventCodec();
        const bodies = events.map((event) => codec.ownBody(codec.encode(event))!);
        // Two calls at once: on chdb the second joins the first while it waits in the queue.
        await Promise.all([
          store.insertAvro(EVENTS_TABLE, EVENTS_FROM_AVRO, { schema: codec.schema, bodies: bodies.slice(0, 2) }),
          store.insertAvro(EVENTS_TABLE, EVENTS_FROM_AVRO, { schema: codec.schema, bodies: bodies.slice(2) }),
        ]);
        const stored = await store.query(`SELECT * EXCEPT ingested_at FROM ${EVENTS_TABLE} ORDER BY event_id`);
        expect(stored).toEqual(events.map(eventRow));
        await store.insertAvro(EVENTS_TABLE, EVENTS_FROM_AVRO, { schema: codec.schema, bodies: [] });
        expect(await store.query(`SELECT count() AS n FROM ${EVENTS_TABLE}`)).toEqual([{ n: '3' }]);
        // A record repeated within one insert is kept twice (no de-duplication on insert); FINAL counts it once.
        await store.insertAvro(EVENTS_TABLE, EVENTS_FROM_AVRO, {
          schema: codec.schema,
          bodies: [bodies[0]!, bodies[0]!],
        });
        expect(await store.query(`SELECT count() AS n FROM ${EVENTS_TABLE}`)).toEqual([{ n: '5' }]);
        expect(await store.query(`SELECT count() AS n FROM ${EVENTS_TABLE} FINAL`)).toEqual([{ n: '3' }]);
      }));

    it('drops an insert whose dedup token was inserted before, in the table and through its materialized views; never one without a token', () =>
      withStore(async (store) => {
        await migrate(store);
        const second = Math.floor(Date.now() / 86_400_000) * 86_400 - 86_400;
        const events = sampleEvents(second * 1_000_000 + 123_456);
        const codec = createEventCodec();
        const bodies = events.map((event) => codec.ownBody(codec.encode(event))!);
        // The rollup counts every row inserted into events (a background merge of events may fold
        // its duplicate rows, never the rollup's counts); FINAL counts each event once.
        const counts = async (): Promise<unknown[]> =>
          store.query(
            `SELECT (SELECT count() FROM ${EVENTS_TABLE} FINAL) AS events,
                    (SELECT countMerge(events) FROM events_per_minute) AS rolled,
                    (SELECT sumMerge(errors) FROM events_per_minute) AS errors`,
          );
        // Rows and Avro records, each insert twice with its token (a replayed batch).
        for (let i = 0; i < 2; i++) {
          await store.insert(EVENTS_TABLE, events.map(eventRow), { dedupToken: 'contract/rows/0-2' });
          await store.insertAvro(
            EVENTS_TABLE,
            EVENTS_FROM_AVRO,
            { schema: codec.schema, bodies },
            { dedupToken: 'contract/avro/0-2' },
          );
        }
        expect(await counts()).toEqual([{ events: '3', rolled: '6', errors: '2' }]);
        // Two inserts under one token at once: the second is dropped, whichever runs second.
        await Promise.all([
          store.insert(EVENTS_TABLE, events.map(eventRow), { dedupToken: 'contract/rows/3-5' }),
          store.insert(EVENTS_TABLE, events.map(eventRow), { dedupToken: 'contract/rows/3-5' }),
        ]);
        expect(await counts()).toEqual([{ events: '3', rolled: '9', errors: '3' }]);
        // Without a token nothing is dropped, however alike the inserts.
        await store.insert(EVENTS_TABLE, events.map(eventRow));
        await store.insert(EVENTS_TABLE, events.map(eventRow));
        expect(await counts()).toEqual([{ events: '3', rolled: '15', errors: '5' }]);
      }));

    it('refuses Avro records that do not match the mapping with store_insert_failed, and goes on', () =>
      withStore(async (store) => {
        await migrate(store);
        const codec = createEventCodec();
        const body = codec.ownBody(codec.encode(sampleEvents(Date.now() * 1000)[0]!))!;
        const wrong = {
          ...EVENTS_FROM_AVRO,
          structure: EVENTS_FROM_AVRO.structure.replace('latency_ms Float64', 'latency_ms UUID'),
        };
        await expect(
          store.insertAvro(EVENTS_TABLE, wrong, { schema: codec.schema, bodies: [body] }),
        ).rejects.toMatchObject({ code: 'store_insert_failed' });
        await expect(
          store.insertAvro(
            EVENTS_TABLE,
            { ...EVENTS_FROM_AVRO, columns: { 'a; DROP': 'x' } },
            { schema: codec.schema, bodies: [body] },
          ),
        ).rejects.toMatchObject({ code: 'store_bad_identifier' });
        await store.insertAvro(EVENTS_TABLE, EVENTS_FROM_AVRO, { schema: codec.schema, bodies: [body] });
        expect(await store.query(`SELECT count() AS n FROM ${EVENTS_TABLE}`)).toEqual([{ n: '1' }]);
      }));

    it("fails bad SQL with the engine's own text and error number", () =>
      withStore(async (store) => {
        await expect(store.query('SELEC 1')).rejects.toMatchObject({
          code: 'store_query_failed',
          engineCode: 62,
          message: expect.stringContaining('Syntax error') as unknown,
        });
        await expect(store.query('SELECT * FROM no_such_table')).rejects.toMatchObject({
          code: 'store_query_failed',
          engineCode: 60,
          message: expect.stringMatching(/no_such_table.*UNKNOWN_TABLE/s) as unknown,
        });
        await expect(store.query('SELECT {missing:String}')).rejects.toMatchObject({ engineCode: 456 });
        await expect(store.command('SELECT 1; SELECT 2')).rejects.toMatchObject({ code: 'store_many_statements' });
        await expect(store.insert('no_such_table', [{ a: 1 }])).rejects.toMatchObject({
          code: 'store_insert_failed',
          engineCode: 60,
        });
        expect(await store.query('SELECT 1 AS one;')).toEqual([{ one: 1 }]);
      }));

    it('closes: idempotent, and later calls fail with store_closed', async () => {
      count += 1;
      const database = `aispm_contract_${run}_${count}`;
      const store = await harness.open(database);
      await store.command('SELECT 1');
      await store.command(`DROP DATABASE IF EXISTS ${database}`);
      await store.close();
      await store.close();
      await expect(store.query('SELECT 1')).rejects.toMatchObject({ code: 'store_closed' });
      await expect(store.insert('t', [{ a: 1 }])).rejects.toMatchObject({ code: 'store_closed' });
    });
  });
}

/** Three events: one with every field set (unicode, quotes, control characters), one mostly empty, one tool call. */
function sampleEvents(time: number): AiEvent[] {
  const base: AiEvent = {
    event_id: '0af7651916cd43dd8448eb211c80319cb7ad6b7169203331',
    trace_id: '0af7651916cd43dd8448eb211c80319c',
    span_id: 'b7ad6b7169203331',
    parent_span_id: '00f067aa0ba902b7',
    tenant: 'acme',
    time,
    kind: 'llm_call',
    operation: 'chat',
    app: 'support-bot',
    environment: 'prod',
    agent: 'triage',
    user: 'user-1',
    identity: 'svc-support',
    scopes: ['tickets:read', 'kb:read'],
    conversation_id: 'conv-1',
    provider: 'openai',
    request_model: 'gpt-4o',
    response_model: 'gpt-4o-2024-08-06',
    tool_name: null,
    tool_risk: null,
    destination: 'api.openai.com',
    input_tokens: 1200,
    output_tokens: 345,
    latency_ms: 812.25,
    status: 'ok',
    error_type: null,
    finish_reasons: ['stop'],
    content: {
      policy: 'full',
      prompt: 'Héllo 🙂 "quoted" \'single\' \\ back\nslash\ttab',
      completion: '',
      tool_arguments: null,
      tool_result: null,
    },
    attributes: { 'gen_ai.system': 'openai', ключ: 'значение', empty: '' },
  };
  return [
    { ...base, event_id: 'e1', agent: null, input_tokens: null, output_tokens: null, user: null },
    {
      ...base,
      event_id: 'e2',
      time: base.time + 1,
      kind: 'tool_call',
      operation: 'execute_tool',
      tool_name: 'send_email',
      tool_risk: 'egress',
      status: 'error',
      error_type: 'timeout',
      finish_reasons: [],
      content: { policy: 'hash', prompt: null, completion: null, tool_arguments: 'ab12', tool_result: null },
    },
    {
      ...base,
      event_id: 'e3',
      time: base.time + 999_999,
      parent_span_id: null,
      scopes: [],
      attributes: {},
      content: { policy: 'none', prompt: null, completion: null, tool_arguments: null, tool_result: null },
    },
  ];
}
