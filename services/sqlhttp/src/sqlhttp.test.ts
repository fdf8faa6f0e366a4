import { existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAstDump } from './guard.ts';
import { openFixture, type Fixture } from './fixture.ts';
import { parseReadKeys } from './keys.ts';
import { startSqlEndpoint } from './start.ts';

let fixture: Fixture;
let acme: ClickHouseClient;
let globex: ClickHouseClient;

beforeAll(async () => {
  fixture = await openFixture();
  const client = (tenant: 'acme' | 'globex', compress = false): ClickHouseClient =>
    createClient({
      url: fixture.url,
      username: tenant,
      password: fixture.keys[tenant],
      database: fixture.database,
      compression: { response: compress },
      // Refusals are what these tests expect; the client's own error log would only repeat them.
      log: { level: ClickHouseLogLevel.OFF },
    });
  acme = client('acme', true);
  globex = client('globex');
}, 120_000);
afterAll(async () => {
  await acme?.close();
  await globex?.close();
  await fixture?.close();
});

/** A raw request as acme, the query in the body. */
async function post(sql: string, search = '', headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${fixture.url}/?${search}`, {
    method: 'POST',
    body: sql,
    headers: { authorization: `Basic ${Buffer.from(`acme:${fixture.keys.acme}`).toString('base64')}`, ...headers },
  });
}

describe('SQL endpoint with @clickhouse/client', () => {
  it('binds {name:Type} parameters and reads JSON rows of its own tenant only', async () => {
    for (const [client, tenant] of [
      [acme, 'acme'],
      [globex, 'globex'],
    ] as const) {
      const result = await client.query({
        query: 'SELECT entity, reasons FROM anomaly_scores WHERE score >= {min:Float32} ORDER BY entity',
        query_params: { min: 0 },
        format: 'JSONEachRow',
      });
      const rows = await result.json<{ entity: string; reasons: string[] }>();
      expect(rows.map((r) => r.entity)).toEqual([0, 1, 2].map((i) => `${tenant}/agent-${i}`));
      expect(rows.flatMap((r) => r.reasons).every((r) => r.startsWith(tenant))).toBe(true);
      const [all] = await (
        await client.query({
          query: 'SELECT count() AS n, groupUniqArray(tenant) AS t FROM anomaly_scores',
          format: 'JSONEachRow',
        })
      ).json<{ n: number; t: string[] }>();
      expect(all).toEqual({ n: 3, t: [tenant] });
    }
  });

  it('sees no row of another tenant however the query names or filters it', async () => {
    const queries = [
      "SELECT * FROM anomaly_scores WHERE tenant = 'globex'",
      `SELECT * FROM ${'aispm_sql'}.anomaly_scores FINAL WHERE tenant != 'acme'`,
      "WITH x AS (SELECT * FROM anomaly_scores) SELECT * FROM x WHERE tenant = 'globex'",
      "SELECT (SELECT groupArray(tenant) FROM anomaly_scores WHERE tenant = 'globex') AS t WHERE length(t) > 0",
      "SELECT * FROM events_with_content WHERE tenant = 'globex'",
      "SELECT * FROM numbers(10) WHERE number IN (SELECT count() FROM anomaly_scores WHERE tenant = 'globex') AND number > 0",
      'SELECT * FROM processor_state',
      'SELECT * FROM aispm_migrations',
    ];
    for (const query of queries) {
      const rows = await (await acme.query({ query, format: 'JSONEachRow' })).json();
      expect(rows, query).toEqual([]);
    }
  });

  it('reads RowBinaryWithNamesAndTypes, written by the engine, with the format headers', async () => {
    const result = await acme.exec({
      query: 'SELECT entity FROM anomaly_scores ORDER BY entity LIMIT 1 FORMAT RowBinaryWithNamesAndTypes',
    });
    const chunks: Buffer[] = [];
    for await (const chunk of result.stream) chunks.push(chunk as Buffer);
    const bytes = Buffer.concat(chunks);
    // 1 column, "entity", "String", then the row: length-prefixed "acme/agent-0".
    expect(bytes).toEqual(
      Buffer.concat([
        Buffer.from([1, 6]),
        Buffer.from('entity'),
        Buffer.from([6]),
        Buffer.from('String'),
        Buffer.from([12]),
        Buffer.from('acme/agent-0'),
      ]),
    );
    expect(result.response_headers['x-clickhouse-format']).toBe('RowBinaryWithNamesAndTypes');
    expect(result.response_headers['content-type']).toBe('application/octet-stream');
    expect(JSON.parse(String(result.response_headers['x-clickhouse-summary']))).toMatchObject({ written_rows: '0' });
    expect(result.query_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses every write and SET with readonly error 164', async () => {
    for (const query of [
      "INSERT INTO anomaly_scores (tenant, event_id) VALUES ('globex', 'forged')",
      'CREATE TABLE stolen (x UInt8) ENGINE = Memory',
      'ALTER TABLE anomaly_scores DELETE WHERE 1',
      'DROP TABLE anomaly_scores',
      'TRUNCATE TABLE anomaly_scores',
      'SET readonly = 0',
      'SET max_threads = 1',
      'SELECT * FROM anomaly_scores SETTINGS additional_table_filters = {}',
      'SELECT * FROM (SELECT * FROM anomaly_scores SETTINGS additional_table_filters = {})',
    ]) {
      await expect(acme.command({ query }), query).rejects.toMatchObject({ code: '164' });
    }
    const [left] = await (
      await globex.query({ query: 'SELECT count() AS n FROM anomaly_scores', format: 'JSONEachRow' })
    ).json<{ n: number }>();
    expect(left).toEqual({ n: 3 });
  });
});

describe('SQL endpoint: what a tenant cannot reach', () => {
  it("refuses files, other databases, system tables with others' queries, and reading table functions (497)", async () => {
    const file = fixture.secretFile;
    const attempts = [
      `SELECT * FROM file('${file}', 'LineAsString')`,
      `SELECT file('${file}')`,
      `SELECT * FROM default.\`${file}\``,
      `SELECT * FROM url('${fixture.url}/?query=SELECT%201', 'TSV')`,
      "SELECT * FROM merge('aispm_sql', '.*')",
      'SELECT * FROM view(SELECT * FROM anomaly_scores)',
      'SELECT * FROM loop(anomaly_scores) LIMIT 1',
      "SELECT * FROM remote('127.0.0.1', 'aispm_sql', 'anomaly_scores')",
      "SELECT * FROM s3('http://127.0.0.1:1/x', 'TSV')",
      'SELECT * FROM system.processes',
      'SELECT * FROM system.query_log',
      "SELECT dictGet('d', 'a', 1)",
      "SELECT joinGet('aispm_sql.anomaly_scores', 'tenant', 1)",
      'SELECT count() FROM numbers(3) WHERE number IN system.processes',
    ];
    for (const sql of attempts) {
      const response = await post(sql);
      const body = await response.text();
      expect(response.status, sql).toBe(403);
      expect(response.headers.get('x-clickhouse-exception-code'), sql).toBe('497');
      expect(body, sql).toMatch(/^Code: 497\. DB::Exception: .*\(ACCESS_DENIED\) \(version 26\.7\.2\.1\)\n$/s);
      expect(body).not.toContain(fixture.secret);
    }
  });

  it('refuses a table given as an Identifier parameter that names another database', async () => {
    const response = await post('SELECT * FROM {t:Identifier}', `param_t=${encodeURIComponent('system.processes')}`);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('ACCESS_DENIED');
  });

  it('runs one statement only, and never a second one hidden after a comment', async () => {
    // The engine's lexer decides where a statement ends: comments nest, so all of this is one comment after SELECT 1.
    const nested = await post(
      'SELECT 1 /* /* */ ; SELECT tenant FROM anomaly_scores SETTINGS additional_table_filters = {} -- */',
    );
    expect(nested.status).toBe(200);
    expect(await nested.text()).toBe('1\n');
    for (const sql of [
      'SELECT 1; SELECT * FROM anomaly_scores',
      'SELECT 1 /* */ ; SELECT tenant FROM anomaly_scores SETTINGS additional_table_filters = {} -- */',
      "SELECT 1 -- \n; SELECT * FROM file('/etc/hostname')",
    ]) {
      const response = await post(sql);
      const body = await response.text();
      expect(response.status, sql).toBe(400);
      expect(body, sql).toContain('(SYNTAX_ERROR)');
      expect(body).not.toContain('globex');
    }
  });

  it('writes no file: INTO OUTFILE is refused', async () => {
    const response = await post(`SELECT * FROM anomaly_scores INTO OUTFILE '${fixture.secretFile}.out'`);
    expect(response.status).toBe(403);
    expect(existsSync(`${fixture.secretFile}.out`)).toBe(false);
  });

  it('ignores URL settings a tenant may not change, so the table filters stay', async () => {
    const response = await post(
      'SELECT groupUniqArray(tenant) FROM anomaly_scores FORMAT TSV',
      `additional_table_filters=${encodeURIComponent('{}')}&dialect=prql`,
    );
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("['acme']\n");
    const unknown = await post('SELECT 1', 'no_such_setting=1');
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('x-clickhouse-exception-code')).toBe('115');
  });

  it("refuses a wrong key, another tenant's key, and no key (516, 403)", async () => {
    const attempts: Record<string, string>[] = [
      { authorization: `Basic ${Buffer.from(`acme:${fixture.keys.globex}`).toString('base64')}` },
      { 'x-clickhouse-user': 'globex', 'x-clickhouse-key': 'not-the-key-of-anyone' },
      {},
    ];
    for (const headers of attempts) {
      const response = await fetch(`${fixture.url}/?query=SELECT%201`, { headers });
      expect(response.status).toBe(403);
      expect(response.headers.get('x-clickhouse-exception-code')).toBe('516');
      expect(await response.text()).toContain('(AUTHENTICATION_FAILED)');
    }
    const viaHeaders = await fetch(
      `${fixture.url}/?query=${encodeURIComponent('SELECT count() FROM anomaly_scores')}`,
      {
        headers: { 'x-clickhouse-user': 'globex', 'x-clickhouse-key': fixture.keys.globex },
      },
    );
    expect(await viaHeaders.text()).toBe('3\n');
  });
});

describe('SQL endpoint: the HTTP interface', () => {
  it('takes GET with query= and param_*, POST bodies, default_format and FORMAT, and sends the headers clients read', async () => {
    const get = await fetch(
      `${fixture.url}/?query=${encodeURIComponent('SELECT {n:UInt64} + 1 AS x')}&param_n=41&default_format=JSONEachRow&query_id=q-1`,
      { headers: { 'x-clickhouse-user': 'acme', 'x-clickhouse-key': fixture.keys.acme } },
    );
    expect(get.status).toBe(200);
    expect(await get.text()).toBe('{"x":42}\n');
    expect(get.headers.get('x-clickhouse-query-id')).toBe('q-1');
    expect(get.headers.get('x-clickhouse-format')).toBe('JSONEachRow');
    expect(get.headers.get('content-type')).toBe('application/json; charset=UTF-8');
    const summary = JSON.parse(get.headers.get('x-clickhouse-summary') ?? '{}') as Record<string, string>;
    expect(Object.keys(summary)).toEqual(
      expect.arrayContaining(['read_rows', 'read_bytes', 'written_rows', 'elapsed_ns']),
    );
    expect(get.headers.get('x-clickhouse-timezone')).toBeTruthy();

    const tsv = await post('SELECT entity FROM anomaly_scores ORDER BY entity FORMAT TabSeparatedWithNamesAndTypes');
    expect(tsv.headers.get('x-clickhouse-format')).toBe('TabSeparatedWithNamesAndTypes');
    expect(tsv.headers.get('content-type')).toBe('text/tab-separated-values; charset=UTF-8');
    expect(await tsv.text()).toBe('entity\nString\nacme/agent-0\nacme/agent-1\nacme/agent-2\n');

    const plain = await post('SELECT 1');
    expect(plain.headers.get('x-clickhouse-format')).toBe('TabSeparated');
    expect(await plain.text()).toBe('1\n');

    const native = await post('SELECT 7::UInt8 AS n', 'default_format=Native');
    expect(native.headers.get('content-type')).toBe('application/octet-stream');
    // Native, revision 0: 1 column, 1 row, "n", "UInt8", 7.
    expect(Buffer.from(await native.arrayBuffer())).toEqual(
      Buffer.concat([
        Buffer.from([1, 1, 1]),
        Buffer.from('n'),
        Buffer.from([5]),
        Buffer.from('UInt8'),
        Buffer.from([7]),
      ]),
    );
    const ping = await fetch(`${fixture.url}/ping`);
    expect(await ping.text()).toBe('Ok.\n');
  });

  it('compresses the answer with gzip or deflate when enable_http_compression=1, and reads gzip bodies', async () => {
    const sql = 'SELECT entity FROM anomaly_scores ORDER BY entity';
    for (const encoding of ['gzip', 'deflate']) {
      const response = await post(sql, 'enable_http_compression=1', { 'accept-encoding': encoding });
      expect(response.headers.get('content-encoding')).toBe(encoding);
      // fetch decodes the body by its Content-Encoding.
      expect(await response.text()).toBe('acme/agent-0\nacme/agent-1\nacme/agent-2\n');
    }
    const uncompressed = await post(sql, '', { 'accept-encoding': 'gzip' });
    expect(uncompressed.headers.get('content-encoding')).toBeNull();
    const gz = await fetch(`${fixture.url}/`, {
      method: 'POST',
      body: gzipSync(Buffer.from(sql)),
      headers: {
        'content-encoding': 'gzip',
        authorization: `Basic ${Buffer.from(`acme:${fixture.keys.acme}`).toString('base64')}`,
      },
    });
    expect(await gz.text()).toBe('acme/agent-0\nacme/agent-1\nacme/agent-2\n');
  });

  it("answers errors in ClickHouse's format and status: syntax 400, unknown table 404, unknown format 404", async () => {
    const cases: [string, string, number, string][] = [
      ['SELEC 1', '', 400, '62'],
      ['SELECT * FROM no_such_table', '', 404, '60'],
      ['SELECT 1', 'default_format=NoSuchFormat', 404, '73'],
      ['SELECT 1', 'database=other', 404, '81'],
    ];
    for (const [sql, search, status, code] of cases) {
      const response = await post(sql, search);
      expect(response.status, sql).toBe(status);
      expect(response.headers.get('x-clickhouse-exception-code')).toBe(code);
      expect(await response.text()).toMatch(
        new RegExp(`^Code: ${code}\\. DB::Exception: .*\\(version 26\\.7\\.2\\.1\\)\\n$`, 's'),
      );
    }
  });
});

describe('SQL endpoint: Native for clients that send client_protocol_version', () => {
  it('frames Native at the revision asked for, by default_format or FORMAT, and refuses what it cannot frame', async () => {
    const blockInfo = '0100' + '02ffffffff' + '00';
    for (const [sql, search] of [
      ['SELECT count() AS n FROM anomaly_scores', 'client_protocol_version=54460&default_format=Native'],
      ['SELECT count() AS n FROM anomaly_scores FORMAT Native', 'client_protocol_version=54460'],
    ] as const) {
      const response = await post(sql, search);
      expect(response.status).toBe(200);
      expect(response.headers.get('x-clickhouse-format')).toBe('Native');
      const body = Buffer.from(await response.arrayBuffer()).toString('hex');
      // block info, 1 column, 1 row, "n", "UInt64", no custom serialization, 3 (acme's rows only)
      const name = Buffer.from('\x01n\x06UInt64').toString('hex');
      expect(body).toBe(`${blockInfo}0101${name}00${'03'.padEnd(16, '0')}`);
    }
    const newer = await post('SELECT 1', 'client_protocol_version=54461&default_format=Native');
    expect(newer.status).toBe(501);
    expect(await newer.text()).toMatch(/Code: 48\b.*client_protocol_version 54461/);
    const json = await post(`SELECT '{"a":1}'::JSON AS j`, 'client_protocol_version=54460&default_format=Native');
    expect(await json.text()).toMatch(/Code: 48\b.*column j of type JSON/);
    // Without client_protocol_version: the engine's own revision-0 Native, no block info.
    const plain = await post('SELECT count() AS n FROM anomaly_scores', 'default_format=Native');
    expect(Buffer.from(await plain.arrayBuffer()).toString('hex')).toMatch(/^0101/);
  });
});

describe('SQL endpoint bounds', () => {
  it('refuses a query over the size bound (413), stops a long query (408), and a query beyond the concurrency bound (202)', async () => {
    const endpoint = await startSqlEndpoint({
      store: fixture.store,
      keys: parseReadKeys(`acme:${fixture.keys.acme}`),
      port: 0,
      maxConcurrent: 1,
      maxQueued: 0,
      maxQueryBytes: 1000,
      maxExecutionSeconds: 1,
    });
    try {
      const send = (sql: string): Promise<Response> =>
        fetch(`${endpoint.url}/`, {
          method: 'POST',
          body: sql,
          headers: { 'x-clickhouse-user': 'acme', 'x-clickhouse-key': fixture.keys.acme },
        });
      const large = await send(`SELECT '${'x'.repeat(2000)}'`);
      expect(large.status).toBe(413);
      const slow = send('SELECT count() FROM numbers_mt(1000000000000)');
      await new Promise((resolve) => setTimeout(resolve, 300));
      const refused = await send('SELECT 1');
      expect(refused.status).toBe(500);
      expect(refused.headers.get('x-clickhouse-exception-code')).toBe('202');
      const stopped = await slow;
      expect(stopped.status).toBe(408);
      expect(stopped.headers.get('x-clickhouse-exception-code')).toBe('159');
    } finally {
      await endpoint.close();
    }
  });
});

describe('AST dump parsing', () => {
  it('refuses a dump whose shape does not add up, as a name with a line break prints', () => {
    expect(
      parseAstDump('SelectWithUnionQuery (children 1)\n ExpressionList (children 1)\n  Identifier a\n'),
    ).not.toBeNull();
    expect(
      parseAstDump('SelectWithUnionQuery (children 1)\n ExpressionList (children 1)\n  Identifier we\nird\n'),
    ).toBeNull();
    expect(
      parseAstDump('SelectWithUnionQuery (children 2)\n ExpressionList (children 1)\n  Identifier a\n'),
    ).toBeNull();
    expect(parseAstDump('SelectWithUnionQuery (children 1)\n ExpressionList\n  Identifier a\n')).toBeNull();
  });
});
