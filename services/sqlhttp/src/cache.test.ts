import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFixture, type Fixture } from './fixture.ts';
import { Lru, verdictKey } from './gate.ts';
import { parseReadKeys } from './keys.ts';
import { startSqlEndpoint, type RunningSqlEndpoint } from './start.ts';

let fixture: Fixture;

beforeAll(async () => {
  fixture = await openFixture();
}, 120_000);
afterAll(async () => {
  await fixture?.close();
});

/** A query as `tenant`, its answer's status and text. */
async function ask(url: string, tenant: 'acme' | 'globex', sql: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`${url}/`, {
    method: 'POST',
    body: sql,
    headers: { 'x-clickhouse-user': tenant, 'x-clickhouse-key': fixture.keys[tenant] },
  });
  return { status: response.status, body: await response.text() };
}

async function endpoint(schemaCacheMs: number): Promise<RunningSqlEndpoint> {
  return startSqlEndpoint({
    store: fixture.store,
    keys: parseReadKeys(`acme:${fixture.keys.acme}\nglobex:${fixture.keys.globex}`),
    port: 0,
    schemaCacheMs,
  });
}

describe('SQL endpoint caches: the guard stays as strict', () => {
  it('refuses a query as often as it is asked, and one statement after another is never run', async () => {
    for (let i = 0; i < 3; i++) {
      const file = await ask(fixture.url, 'acme', `SELECT * FROM file('${fixture.secretFile}', 'LineAsString')`);
      expect(file.status).toBe(403);
      const two = await ask(fixture.url, 'acme', 'SELECT 1; SELECT * FROM anomaly_scores');
      expect(two.status).toBe(400);
      expect(two.body).toContain('SYNTAX_ERROR');
    }
  });

  it('sees through aliases: an aliased table is filtered, an aliased file read refused', async () => {
    const aliased = await ask(fixture.url, 'acme', 'SELECT groupUniqArray(a.tenant) FROM anomaly_scores AS a');
    expect(aliased).toEqual({ status: 200, body: "['acme']\n" });
    for (const sql of [
      `SELECT * FROM file('${fixture.secretFile}', 'LineAsString') AS t`,
      `SELECT file('${fixture.secretFile}') AS f`,
    ]) {
      const response = await ask(fixture.url, 'acme', sql);
      expect(response.status, sql).toBe(403);
      expect(response.body).not.toContain(fixture.secret);
    }
  });

  it('a text the engine would not read as one statement is refused', async () => {
    // Options of EXPLAIN before a SELECT are no statement of their own.
    const response = await ask(fixture.url, 'acme', 'optimize = 1 SELECT * FROM anomaly_scores');
    expect(response.status).toBe(400);
  });

  it('reports a syntax error at its position in the client’s own text', async () => {
    const response = await ask(fixture.url, 'acme', 'SELECT 1 +');
    expect(response.status).toBe(400);
    expect(response.body).toMatch(/^Code: 62\. DB::Exception: Syntax error: failed at position 11\b/);
    expect(response.body).not.toContain('EXPLAIN');
  });

  it('tenants never share an entry: the same text reads each tenant’s own rows', async () => {
    const sql = 'SELECT groupUniqArray(tenant), count() FROM anomaly_scores';
    for (let i = 0; i < 2; i++) {
      expect(await ask(fixture.url, 'acme', sql)).toEqual({ status: 200, body: "['acme']\t3\n" });
      expect(await ask(fixture.url, 'globex', sql)).toEqual({ status: 200, body: "['globex']\t3\n" });
    }
    const acme = verdictKey({ kind: 'tenant', tenant: 'acme' }, {}, sql);
    expect(verdictKey({ kind: 'tenant', tenant: 'globex' }, {}, sql)).not.toBe(acme);
    expect(verdictKey({ kind: 'operator' }, {}, sql)).not.toBe(acme);
    expect(verdictKey({ kind: 'tenant', tenant: 'acme' }, { t: 'x' }, sql)).not.toBe(acme);
  });

  it('the verdict cache is bounded and forgets the least recently used first', () => {
    const lru = new Lru<number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBe(1);
    lru.set('c', 3);
    expect([lru.get('a'), lru.get('b'), lru.get('c'), lru.size]).toEqual([1, undefined, 3, 2]);
    const none = new Lru<number>(0);
    none.set('a', 1);
    expect(none.get('a')).toBeUndefined();
  });
});

describe('SQL endpoint caches: a schema change is seen', () => {
  it('a table created after queries were served is read with its tenant filter at once', async () => {
    expect((await ask(fixture.url, 'acme', 'SELECT count() FROM anomaly_scores')).body).toBe('3\n');
    await fixture.store.command('CREATE TABLE late_rows (tenant String, x UInt8) ENGINE = MergeTree ORDER BY x');
    await fixture.store.command("INSERT INTO late_rows VALUES ('acme', 1), ('globex', 2), ('globex', 3)");
    expect(await ask(fixture.url, 'acme', 'SELECT groupArray(x) FROM late_rows')).toEqual({
      status: 200,
      body: '[1]\n',
    });
    const inSubquery = 'SELECT count() FROM numbers(5) WHERE number IN (SELECT x FROM late_rows)';
    expect((await ask(fixture.url, 'globex', inSubquery)).body).toBe('2\n');
    expect((await ask(fixture.url, 'globex', 'SELECT groupArray(x) FROM late_rows')).body).toBe('[2,3]\n');
  });

  it('a tenant column added later shows the tenant its rows once the schema is read again', async () => {
    const served = await endpoint(100);
    try {
      await fixture.store.command('CREATE TABLE late_plain (x UInt8) ENGINE = MergeTree ORDER BY x');
      await fixture.store.command('INSERT INTO late_plain VALUES (7)');
      expect((await ask(served.url, 'acme', 'SELECT count() FROM late_plain')).body).toBe('0\n');
      await fixture.store.command("ALTER TABLE late_plain ADD COLUMN tenant String DEFAULT 'acme'");
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect((await ask(served.url, 'acme', 'SELECT count() FROM late_plain')).body).toBe('1\n');
      expect((await ask(served.url, 'globex', 'SELECT count() FROM late_plain')).body).toBe('0\n');
    } finally {
      await served.close();
    }
  });

  it('an error naming a column the cached schema had makes the next query read it again', async () => {
    const served = await endpoint(600_000);
    try {
      await fixture.store.command('CREATE TABLE late_gone (tenant String, x UInt8) ENGINE = MergeTree ORDER BY x');
      await fixture.store.command("INSERT INTO late_gone VALUES ('acme', 1)");
      expect((await ask(served.url, 'acme', 'SELECT count() FROM late_gone')).body).toBe('1\n');
      await fixture.store.command('ALTER TABLE late_gone DROP COLUMN tenant');
      // The cached filter names the dropped column: the engine says so, once.
      expect((await ask(served.url, 'acme', 'SELECT count() FROM late_gone')).status).not.toBe(200);
      expect(await ask(served.url, 'acme', 'SELECT count() FROM late_gone')).toEqual({ status: 200, body: '0\n' });
    } finally {
      await served.close();
    }
  });
});
