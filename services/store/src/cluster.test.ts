import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChdbStore } from './chdb.ts';
import { renderForCluster, tokenize, type Catalogue } from './cluster.ts';
import { migrate, renderMigrations, MIGRATIONS_TABLE } from './migrate.ts';
import { splitStatements } from './sql-text.ts';
import type { Store } from './store.ts';

/**
 * The cluster layout of the migrations. Every statement rendered is parsed by the
 * engine itself (chdb: formatQuery and EXPLAIN AST), and the checks read the
 * engine's parse, not the rendered text. Then the layout runs for real on chdb
 * given a one-shard cluster: chdb has no Keeper, so ON CLUSTER (Keeper's DDL queue)
 * and replication are what it cannot host, and a stand-in store takes those two
 * out of each statement; the local tables, the Distributed tables, the sharding
 * keys and the materialized views run as rendered.
 */
const folder = mkdtempSync(join(tmpdir(), 'aispm-cluster-'));
// The engine merges conf.d next to its configuration file: a cluster of one shard, this process (tcp_port makes localhost local).
mkdirSync(join(folder, 'conf.d'), { recursive: true });
writeFileSync(
  join(folder, 'conf.d', 'cluster.xml'),
  '<clickhouse><tcp_port>9000</tcp_port><remote_servers><one><shard><replica><host>localhost</host><port>9000</port></replica></shard></one></remote_servers></clickhouse>\n',
);
let store: ChdbStore;
beforeAll(async () => {
  store = await ChdbStore.open({ path: folder, database: 'cluster_render' });
});
afterAll(async () => {
  await store.close();
  rmSync(folder, { recursive: true, force: true });
});

const LAYOUT = { cluster: 'prod', database: 'aispm' };
/** Every statement of the rendered migrations, without the trailing `;`. */
const rendered = (): string[] => splitStatements(renderMigrations({ layout: LAYOUT })).map((s) => s.text);
/** The single-server statements, for what each table was. */
const plain = (): string[] => splitStatements(renderMigrations()).map((s) => s.text);

const format = async (sql: string): Promise<string> =>
  (await store.query<{ f: string }>('SELECT formatQuerySingleLine({sql:String}) AS f', { sql }))[0]?.f ?? '';
const ast = async (sql: string): Promise<string[]> =>
  (await store.query<{ explain: string }>(`EXPLAIN AST ${sql}`)).map((r) => r.explain);

/** The engine's parse of a CREATE TABLE: its name, engine and engine arguments as the engine formats them. */
async function created(sql: string): Promise<{ table: string; engine: string; args: string; columns: string[] }> {
  const tree = await ast(sql);
  const table = /^CreateQuery (\S+)/.exec(tree[0] ?? '')?.[1] ?? '';
  const storage = tree.findIndex((l) => /^ Storage definition/.test(l));
  const engine = /^ {2}Function (\S+)/.exec(tree[storage + 1] ?? '')?.[1] ?? '';
  const columns = tree.flatMap((l) => /^ {3}ColumnDeclaration (\S+)/.exec(l)?.[1] ?? []);
  const f = await format(sql);
  const args =
    new RegExp(`ENGINE = ${engine}(?:\\((.*?)\\))?(?: (?:PARTITION|ORDER|PRIMARY|TTL|SETTINGS)|$)`).exec(f)?.[1] ?? '';
  return { table, engine, args, columns };
}

describe('aispm migrate --cluster: rendering', () => {
  it('renders every migration, and the engine parses every statement rendered', async () => {
    const statements = rendered();
    expect(statements.length).toBeGreaterThan(plain().length);
    for (const sql of statements) {
      await expect(format(sql), sql).resolves.toMatch(/\S/);
    }
  });

  it('runs every CREATE, ALTER and DROP ON CLUSTER (as the engine reads it)', async () => {
    let ddl = 0;
    for (const sql of rendered()) {
      const f = await format(sql);
      if (/^(CREATE|ALTER|DROP)\b/.test(f)) {
        ddl += 1;
        expect(f, sql).toMatch(
          /^(?:CREATE|ALTER|DROP) (?:MATERIALIZED )?\w+ (?:IF (?:NOT )?EXISTS )?\w+ ON CLUSTER prod\b/,
        );
      } else {
        expect(f).toMatch(/^INSERT INTO /);
      }
    }
    expect(ddl).toBeGreaterThan(30);
  });

  it('gives each MergeTree table a Replicated local twin with its own arguments and a Distributed table by its name', async () => {
    const single = new Map<string, Awaited<ReturnType<typeof created>>>();
    for (const sql of plain()) {
      if ((await format(sql)).startsWith('CREATE TABLE')) {
        const t = await created(sql);
        single.set(t.table, t);
      }
    }
    const cluster = new Map<string, Awaited<ReturnType<typeof created>>>();
    for (const sql of rendered()) {
      if ((await format(sql)).startsWith('CREATE TABLE')) {
        const t = await created(sql);
        cluster.set(t.table, t);
      }
    }
    const mergeTrees = [...single.values()].filter((t) => /MergeTree$/.test(t.engine));
    expect(mergeTrees.map((t) => t.table)).toEqual(
      expect.arrayContaining([
        MIGRATIONS_TABLE,
        'events',
        'findings',
        'assets',
        'events_per_minute',
        'processor_state',
      ]),
    );
    for (const t of mergeTrees) {
      const local = cluster.get(`${t.table}_local`);
      expect(local?.engine, t.table).toBe(`Replicated${t.engine}`);
      const own = t.args === '' ? '' : `, ${t.args}`;
      expect(local?.args).toBe(`'/clickhouse/tables/{shard}/{database}/${t.table}_local', '{replica}'${own}`);
      expect(local?.columns).toEqual(t.columns);
      const distributed = cluster.get(t.table);
      expect(distributed?.engine).toBe('Distributed');
      const key = t.columns.includes('tenant') ? 'cityHash64(tenant)' : 'rand()';
      expect(distributed?.args).toBe(`prod, aispm, ${t.table}_local, ${key}`);
    }
    // Nothing else: every table of the cluster layout is one of those two.
    expect(cluster.size).toBe(2 * mergeTrees.length + (single.size - mergeTrees.length));
  });

  it('points every materialized view at the local tables: it reads the local source and writes the local target', async () => {
    let views = 0;
    for (const sql of rendered()) {
      const f = await format(sql);
      if (!f.startsWith('CREATE MATERIALIZED VIEW')) continue;
      views += 1;
      expect(f, f).toMatch(/ ON CLUSTER prod TO \w+_local AS SELECT /);
      const tables = (await ast(sql)).flatMap((l) => /TableIdentifier (\S+)/.exec(l)?.[1] ?? []);
      expect(tables.length).toBeGreaterThan(0);
      for (const t of tables) expect(t, f).toMatch(/_local$/);
    }
    expect(views).toBe(8);
  });

  it('alters the local table, and the Distributed table too when columns change', () => {
    const catalogue: Catalogue = new Map();
    const layout = { cluster: 'c', database: 'd' };
    renderForCluster(
      'CREATE TABLE s (key String, saved_at DateTime) ENGINE = ReplacingMergeTree(saved_at) ORDER BY key',
      layout,
      catalogue,
    );
    const out = renderForCluster(
      'ALTER TABLE s ADD COLUMN IF NOT EXISTS topic String, MODIFY ORDER BY (key, topic)',
      layout,
      catalogue,
    );
    expect(out).toEqual([
      'ALTER TABLE s_local ON CLUSTER c ADD COLUMN IF NOT EXISTS topic String, MODIFY ORDER BY (key, topic)',
      'ALTER TABLE s ON CLUSTER c\n    ADD COLUMN IF NOT EXISTS topic String',
    ]);
    expect(
      renderForCluster('ALTER TABLE s MODIFY SETTING non_replicated_deduplication_window = 10', layout, catalogue),
    ).toEqual(['ALTER TABLE s_local ON CLUSTER c MODIFY SETTING replicated_deduplication_window = 10']);
    expect(renderForCluster('DROP TABLE IF EXISTS s', layout, catalogue)).toEqual([
      'DROP TABLE IF EXISTS s ON CLUSTER c',
      'DROP TABLE IF EXISTS s_local ON CLUSTER c',
    ]);
  });

  it('joins in a view shard by shard when both sides are sharded by tenant and match it, globally otherwise', () => {
    const catalogue: Catalogue = new Map();
    const layout = { cluster: 'c', database: 'd' };
    renderForCluster('CREATE TABLE a (tenant String, k String) ENGINE = MergeTree ORDER BY k', layout, catalogue);
    renderForCluster('CREATE TABLE b (tenant String, k String) ENGINE = MergeTree ORDER BY k', layout, catalogue);
    renderForCluster('CREATE TABLE n (k String) ENGINE = MergeTree ORDER BY k', layout, catalogue);
    const [same] = renderForCluster(
      'CREATE VIEW v AS SELECT * FROM a LEFT JOIN (SELECT * FROM b FINAL) AS x ON x.tenant = a.tenant AND x.k = a.k',
      layout,
      catalogue,
    );
    expect(same).toBe(
      'CREATE VIEW v ON CLUSTER c AS SELECT * FROM a LEFT JOIN (SELECT * FROM b_local FINAL) AS x ON x.tenant = a.tenant AND x.k = a.k',
    );
    const [other] = renderForCluster('CREATE VIEW w AS SELECT * FROM a INNER JOIN n ON n.k = a.k', layout, catalogue);
    expect(other).toBe('CREATE VIEW w ON CLUSTER c AS SELECT * FROM a GLOBAL INNER JOIN n ON n.k = a.k');
  });

  it('is not fooled by keywords in literals, quoted names and comments', () => {
    const catalogue: Catalogue = new Map();
    const [local, distributed] = renderForCluster(
      "CREATE TABLE t (`tenant` String, s String DEFAULT 'ENGINE = Log', -- ENGINE = Memory\n n UInt8) ENGINE = SummingMergeTree((n)) ORDER BY s",
      { cluster: 'my-cluster', database: 'd' },
      catalogue,
    );
    expect(local).toBe(
      "CREATE TABLE t_local ON CLUSTER 'my-cluster' (`tenant` String, s String DEFAULT 'ENGINE = Log', -- ENGINE = Memory\n n UInt8) ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/t_local', '{replica}', (n)) ORDER BY s",
    );
    expect(distributed).toBe(
      "CREATE TABLE t ON CLUSTER 'my-cluster' AS t_local\nENGINE = Distributed('my-cluster', d, t_local, cityHash64(tenant))",
    );
    expect(tokenize("a 'b;c' -- d\n").map((t) => t.kind)).toEqual([
      'word',
      'space',
      'string',
      'space',
      'comment',
      'space',
    ]);
  });

  it('refuses what it cannot lay out, saying so', () => {
    const layout = { cluster: 'c', database: 'd' };
    const catalogue: Catalogue = new Map();
    expect(() => renderForCluster('RENAME TABLE a TO b', layout, catalogue)).toThrow(
      /cannot render this statement for a cluster/,
    );
    expect(() => renderForCluster('CREATE MATERIALIZED VIEW m ENGINE = Memory AS SELECT 1', layout, catalogue)).toThrow(
      /must write TO a table/,
    );
    expect(() => renderForCluster('ALTER TABLE nowhere ADD COLUMN x UInt8', layout, catalogue)).toThrow(
      /no earlier migration creates nowhere/,
    );
    expect(() =>
      renderForCluster('CREATE TABLE x (a UInt8) ENGINE = ReplicatedMergeTree ORDER BY a', layout, catalogue),
    ).toThrow(/plain MergeTree engines/);
    expect(() => renderForCluster('DROP TABLE x', { cluster: 'no way', database: 'd' }, catalogue)).toThrow(
      /is not a cluster name/,
    );
  });
});

/**
 * What chdb cannot host of a cluster: Keeper's DDL queue (ON CLUSTER) and replication
 * (a Replicated table becomes its plain twin, its replicated deduplication window the
 * non-replicated one). Everything else runs as rendered.
 */
function oneShardStandIn(real: Store): Store {
  const strip = (sql: string): string =>
    sql
      .replaceAll(' ON CLUSTER one', '')
      .replaceAll(' replicated_deduplication_window', ' non_replicated_deduplication_window')
      .replace(
        /\bReplicated(\w*MergeTree)\('\/clickhouse\/tables\/\{shard\}\/\{database\}\/\w+', '\{replica\}'(?:, )?/g,
        '$1(',
      );
  return new Proxy(real, {
    get(target, key, receiver) {
      if (key === 'command')
        return (sql: string, params?: Record<string, unknown>) => target.command(strip(sql), params);
      const value: unknown = Reflect.get(target, key, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('aispm migrate --cluster: on a one-shard cluster (chdb)', () => {
  it('migrates, routes inserts through the Distributed tables into the local ones and their rollups, and keeps its layout', async () => {
    const real = await ChdbStore.open({ path: folder, database: 'on_cluster' });
    const cluster = oneShardStandIn(real);
    try {
      const first = await migrate(cluster, { cluster: 'one' });
      expect(first.length).toBeGreaterThan(10);
      // The next run finds the layout (and the migrations applied) in the database.
      await expect(migrate(cluster)).resolves.toEqual([]);
      await expect(migrate(cluster, { cluster: 'other' })).rejects.toMatchObject({
        code: 'migration_cluster_mismatch',
      });
      const engines = Object.fromEntries(
        (
          await real.query<{ name: string; engine: string }>(
            "SELECT name, engine FROM system.tables WHERE database = 'on_cluster' AND name IN ('events', 'events_local', 'aispm_migrations')",
          )
        ).map((r) => [r.name, r.engine]),
      );
      expect(engines).toEqual({
        events: 'Distributed',
        events_local: 'ReplacingMergeTree',
        aispm_migrations: 'Distributed',
      });

      const events = ['t1', 't2', 't1'].map((tenant, i) => ({
        event_id: `e${i}`,
        trace_id: `tr${i}`,
        span_id: `s${i}`,
        tenant,
        time: '2026-12-01 10:00:00.000000',
        kind: 'llm_call',
        app: 'app',
        agent: 'agent',
        request_model: 'm',
        latency_ms: 5,
        status: 'ok',
      }));
      // The sink's insert, by the table's name: a Distributed table, whose shard (this node) takes the rows at once.
      await real.insert('events', events, { dedupToken: 'events/0/0-2' });
      // A replay of the batch carries the same token: the local table and the views' tables drop it.
      await real.insert('events', events, { dedupToken: 'events/0/0-2' });
      const counts = await real.query<{ local: string; rollup: string; assets: string }>(
        `SELECT (SELECT count() FROM events_local) AS local,
                (SELECT countMerge(events) FROM events_per_minute) AS rollup,
                (SELECT count() FROM (SELECT tenant, kind, name FROM assets GROUP BY ALL)) AS assets`,
      );
      expect(counts).toEqual([{ local: '3', rollup: '3', assets: '6' }]);
      // The view joins shard by shard (its right side reads events_local).
      await real.insert(
        'genai_log_events',
        ['tr0', 'tr9'].map((trace, i) => ({
          tenant: 't1',
          trace_id: trace,
          span_id: trace.replace('tr', 's'),
          time: '2026-12-01 10:00:00.000000',
          log_id: `l${i}`,
          content_policy: 'none',
        })),
      );
      await expect(
        real.query('SELECT tenant, log_id, event_id FROM events_with_content ORDER BY log_id'),
      ).resolves.toEqual([
        { tenant: 't1', log_id: 'l0', event_id: 'e0' },
        { tenant: 't1', log_id: 'l1', event_id: '' },
      ]);
      const recorded = await real.query<{ n: string }>('SELECT count() AS n FROM aispm_migrations_local');
      expect(recorded).toEqual([{ n: String(first.length) }]);
    } finally {
      await real.close();
    }
  });

  it('refuses to lay a single-server database out on a cluster', async () => {
    const real = await ChdbStore.open({ path: folder, database: 'single' });
    try {
      await migrate(real);
      await expect(migrate(oneShardStandIn(real), { cluster: 'one' })).rejects.toMatchObject({
        code: 'migration_layout_conflict',
      });
    } finally {
      await real.close();
    }
  });
});
