import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEventCodec, type AiEvent } from '@aispm/core';
import {
  ChdbStore,
  clickhouseTime,
  dedupToken,
  eventRow,
  EVENTS_FROM_AVRO,
  EVENTS_TABLE,
  migrate,
  MIGRATIONS_DIR,
  type InsertOptions,
  type Row,
} from '@aispm/store';
import { generateTraffic } from '@aispm/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WRITTEN_TABLES, latencies, snapshot, type Snapshot } from './tables.ts';

/**
 * Exactly-once into the store (issue 22), on chdb: the same batch inserted twice under
 * the same deduplication token leaves every table the processor writes, and every
 * per-minute rollup its materialized views keep, as one insert left them; another
 * token, or none, inserts again (the token decides, not the rows' likeness).
 */
const folder = mkdtempSync(join(tmpdir(), 'aispm-dedup-'));
let store: ChdbStore;
const codec = createEventCodec();
const traffic = [
  ...generateTraffic({ seed: 5, total: 400, tenant: 'acme', spanMs: 2 * 3_600_000, endMs: Date.now() - 60_000 }),
];

beforeAll(async () => {
  store = await ChdbStore.open({ path: folder, database: 'aispm' });
  await migrate(store);
  // No background merge may fold the duplicates the controls below insert on purpose.
  await store.command('SYSTEM STOP MERGES');
});

afterAll(async () => {
  await store.close();
  rmSync(folder, { recursive: true, force: true });
});

/** One processor-like batch: events (half as Avro records, half as rows), their scores, findings, drift, GenAI rows. */
function batch(events: AiEvent[]) {
  const half = Math.floor(events.length / 2);
  const bodies = events.slice(0, half).map((e) => codec.ownBody(codec.encode(e))!);
  const eventRows = events.slice(half).map((e) => eventRow(e));
  const scores: Row[] = events.map((e, i) => ({
    tenant: e.tenant,
    event_id: e.event_id,
    time: clickhouseTime(e.time),
    entity_type: 'agent',
    entity: `${e.tenant}/${e.app}/${e.agent ?? ''}`,
    app: e.app,
    agent: e.agent ?? '',
    score: (i % 10) / 10,
    learning: i % 7 === 0,
    features: ['rate'],
    reasons: ['because'],
    model: 'v1',
  }));
  const first = events[0]!;
  const findings: Row[] = events.slice(0, 5).map((e, i) => ({
    tenant: e.tenant,
    id: `f-${i % 3}`,
    asset: e.app,
    asset_type: 'app',
    type: i % 2 === 0 ? 'anomaly' : 'prompt_injection',
    rule: 'r',
    severity: i % 2 === 0 ? 'medium' : 'high',
    score: 0.9,
    title: 't',
    evidence: [],
    event_ids: [e.event_id],
    first_seen: clickhouseTime(e.time),
    last_seen: clickhouseTime(e.time),
    occurrences: 1,
    status: 'open',
    owasp_llm: [],
    mitre_atlas: [],
    model: '',
  }));
  const drift: Row[] = [
    {
      tenant: first.tenant,
      entity: 'acme/app',
      entity_type: 'agent',
      window_start: clickhouseTime(first.time),
      window_end: clickhouseTime(first.time + 3_600_000_000),
      psi: 0.3,
      js: 0.1,
      features: ['rate'],
      feature_psi: [0.3],
      feature_js: [0.1],
      learning: false,
    },
  ];
  const logs: Row[] = [
    {
      tenant: first.tenant,
      trace_id: first.trace_id,
      span_id: first.span_id,
      time: clickhouseTime(first.time),
      log_id: 'l1',
      app: first.app,
      event_name: 'gen_ai.user.message',
      role: 'user',
      content_policy: 'none',
      content: null,
      detected: [],
    },
  ];
  const metrics: Row[] = [
    {
      tenant: first.tenant,
      metric: 'gen_ai.client.token.usage',
      time: clickhouseTime(first.time),
      start_time: clickhouseTime(first.time),
      point_id: 'p1',
      unit: '{token}',
      temporality: 'delta',
      app: first.app,
      operation: 'chat',
      provider: 'openai',
      request_model: 'gpt-4o',
      response_model: 'gpt-4o',
      token_type: 'input',
      error_type: '',
      attributes: {},
      count: '3',
      sum: 30,
      min: 5,
      max: 15,
      bounds: [10],
      bucket_counts: ['1', '2'],
    },
  ];
  return { bodies, eventRows, scores, findings, drift, logs, metrics };
}

type Batch = ReturnType<typeof batch>;

/** Writes the batch as the processor does: each table's insert with a token of its own (or none), concurrently. */
async function write(b: Batch, source: string | null): Promise<void> {
  const token = (table: string, content: Iterable<Uint8Array | string>): InsertOptions =>
    source === null ? {} : { dedupToken: dedupToken([source, table], content) };
  const json = (rows: Row[]) => rows.map((r) => JSON.stringify(r));
  await Promise.all([
    store.insertAvro(EVENTS_TABLE, EVENTS_FROM_AVRO, { schema: codec.schema, bodies: b.bodies }, token('ea', b.bodies)),
    store.insert(EVENTS_TABLE, b.eventRows, token('er', json(b.eventRows))),
    store.insert('anomaly_scores', b.scores, token('s', json(b.scores))),
    store.insert('findings', b.findings, token('f', json(b.findings))),
    store.insert('drift_reports', b.drift, token('d', json(b.drift))),
    store.insert('genai_log_events', b.logs, token('l', json(b.logs))),
    store.insert('genai_metrics', b.metrics, token('m', json(b.metrics))),
  ]);
}

/** Every count in a snapshot times k: a table's rows, and the counted columns of findings and rollups. */
function times(s: Snapshot, k: number): Snapshot {
  const scale = (v: unknown, key: string): unknown => {
    if (COUNTED.has(key) && (typeof v === 'number' || typeof v === 'string'))
      return typeof v === 'number' ? v * k : String(Number(v) * k);
    if (Array.isArray(v)) return v.map((x) => scale(x, key));
    if (v !== null && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([name, x]) => [name, scale(x, name)]));
    return v;
  };
  return Object.fromEntries(
    // Assets count distinct events: a duplicate adds none.
    Object.entries(s).map(([name, v]) => [
      name,
      typeof v === 'number' ? v * k : name === 'assets' ? v : scale(v, name),
    ]),
  );
}
const COUNTED = new Set([
  'occurrences',
  'records',
  'events',
  'errors',
  'input_tokens',
  'output_tokens',
  'scores',
  'flagged',
  'learning_scores',
]);

describe('exactly-once inserts on chdb (insert_deduplication_token)', () => {
  it('creates the rollups with the configured retention, and the written tables with a deduplication window', async () => {
    const rollups = await store.query<{ name: string; q: string }>(
      `SELECT name, create_table_query AS q FROM system.tables
       WHERE database = currentDatabase() AND name LIKE '%_per_minute' AND engine = 'AggregatingMergeTree' ORDER BY name`,
    );
    expect(rollups.map((t) => t.name)).toEqual([
      'anomaly_scores_per_minute',
      'events_per_minute',
      'findings_per_minute',
    ]);
    for (const { q } of rollups) expect(q).toContain('TTL toDate(minute) + toIntervalDay(400)');
    const windows = await store.query<{ name: string; w: string }>(
      `SELECT name, extract(engine_full, 'non_replicated_deduplication_window = (\\d+)') AS w FROM system.tables
       WHERE database = currentDatabase() AND name IN {names:Array(String)} ORDER BY name`,
      { names: [...WRITTEN_TABLES, 'assets', 'events_per_minute', 'anomaly_scores_per_minute', 'findings_per_minute'] },
    );
    expect(windows.every((w) => w.w === '10000')).toBe(true);
    expect(windows).toHaveLength(WRITTEN_TABLES.length + 4);

    const other = await ChdbStore.open({ path: folder, database: 'short' });
    try {
      await migrate(other, { variables: { rollup_retention_days: 30 } });
      const [row] = await other.query<{ q: string }>(
        "SELECT create_table_query AS q FROM system.tables WHERE database = 'short' AND name = 'events_per_minute'",
      );
      expect(row?.q).toContain('toIntervalDay(30)');
    } finally {
      await other.close();
    }
  });

  it("a replay under the same token writes the views' rows that the first insert's crash left out", async () => {
    // The first insert reached the events table but not the rollup (a kill between the two
    // commits): here, by inserting before the rollups' migration created the view.
    const other = await ChdbStore.open({ path: folder, database: 'repair' });
    try {
      const early = mkdtempSync(join(folder, 'early-'));
      for (const file of readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql') && f < '014'))
        copyFileSync(join(MIGRATIONS_DIR, file), join(early, file));
      await migrate(other, { dir: early });
      const rows = traffic.slice(0, 50).map((e) => eventRow(e));
      const token = { dedupToken: dedupToken(['agents', 'topic', 0, '0-49', 'events'], ['x']) };
      await other.insert(EVENTS_TABLE, rows, token);
      await migrate(other);
      const counts = () =>
        other.query<{ rows: string; rolled: string }>(
          `SELECT (SELECT count() FROM events) AS rows, (SELECT countMerge(events) FROM events_per_minute) AS rolled`,
        );
      expect(await counts()).toEqual([{ rows: '50', rolled: '0' }]);
      await other.insert(EVENTS_TABLE, rows, token); // the replay
      expect(await counts()).toEqual([{ rows: '50', rolled: '50' }]);
      await other.insert(EVENTS_TABLE, rows, token); // and again: nothing more
      expect(await counts()).toEqual([{ rows: '50', rolled: '50' }]);
    } finally {
      await other.close();
    }
  });

  it('a batch inserted twice with the same tokens counts once in every table and rollup; other tokens or none count again', async () => {
    const b = batch(traffic);
    await write(b, 'agents/topic/0/0-399');
    const once = await snapshot(store);
    const onceLatency = await latencies(store);
    expect(once.events).toBe(traffic.length);
    expect((once.events_per_minute as { events: string }[]).reduce((n, r) => n + Number(r.events), 0)).toBe(
      traffic.length,
    );

    // The replay: same batch, same tokens.
    await write(b, 'agents/topic/0/0-399');
    expect(await snapshot(store)).toEqual(once);
    expect(await latencies(store)).toEqual(onceLatency);

    // The same rows from another offset range are another batch: inserted again.
    await write(b, 'agents/topic/0/400-799');
    expect(await snapshot(store)).toEqual(times(once, 2));

    // Without a token nothing is dropped as a duplicate, however alike.
    await write(b, null);
    await write(b, null);
    expect(await snapshot(store)).toEqual(times(once, 4));
  });
});
