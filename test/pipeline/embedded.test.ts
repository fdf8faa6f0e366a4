import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEventCodec, eventKey, loadConfig, sampleEvent, type OutgoingRecord } from '@aispm/core';
import { MemoryBus, type BusRecord } from '@aispm/bus';
import { ChdbStore, migrate } from '@aispm/store';
import { generateTraffic } from '@aispm/cli';
import { Processor } from '@aispm/processor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../support/until.ts';

/**
 * The walking skeleton in embedded mode: events → in-process bus → processor →
 * chdb, with bad records dead-lettered and the rest of their batch going on.
 */
const config = loadConfig({});
const codec = createEventCodec();
const dir = mkdtempSync(join(tmpdir(), 'aispm-pipeline-'));
const bus = new MemoryBus();
let store: ChdbStore;
let processor: Processor;
const deadLetters: BusRecord[] = [];

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;
/** 1970-01-01 was a Thursday: Mondays 00:00 UTC fall 4 days after the epoch, then every week. */
const MONDAY_MS = 4 * DAY_MS;
/**
 * The traffic ends at the last Monday 00:00 UTC, so it falls on the same hours of the
 * week in every run (the baselines' hour-of-week profile then scores it the same),
 * and recently enough for the tables' 90-day TTL.
 */
const endMs = Math.floor((Date.now() - MONDAY_MS) / WEEK_MS) * WEEK_MS + MONDAY_MS;
const traffic = [...generateTraffic({ seed: 11, total: 3000, tenant: 'acme', spanMs: 6 * 3_600_000, endMs })];
const encoded: OutgoingRecord[] = traffic.map((event) => ({ key: eventKey(event), value: codec.encode(event) }));

beforeAll(async () => {
  store = await ChdbStore.open({ path: join(dir, 'chdb'), database: 'aispm' });
  await migrate(store);
  await bus.ensureTopics([
    { topic: config.topics.events, partitions: 4 },
    { topic: config.topics.scores, partitions: 4 },
    { topic: config.topics.findings, partitions: 4 },
    { topic: config.topics.deadLetter, partitions: 1 },
  ]);
  await bus.subscribe({
    topic: config.topics.deadLetter,
    group: 'test-dlq-reader',
    handler: (batch) => {
      deadLetters.push(...batch.records);
      return Promise.resolve();
    },
  });
  processor = new Processor({ bus, store, topics: config.topics, topic: config.topics.events });
  await processor.start();
});

afterAll(async () => {
  await processor.stop();
  await bus.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const count = async (sql: string): Promise<number> =>
  Number((await store.query<{ n: string }>(sql, { tenant: 'acme' }))[0]?.n);

describe('embedded pipeline', () => {
  it('stores and scores every valid event, dead-letters bad ones with the reason, and loses nothing else', async () => {
    const bad: OutgoingRecord[] = [
      { key: 'acme/x/-', value: Buffer.from('not avro at all') },
      { key: 'acme/x/-', value: codec.encode(sampleEvent({ tenant: 'acme', time: endMs * 1000, input_tokens: -3 })) },
      {
        key: 'acme/x/-',
        value: Buffer.concat([Buffer.from([0xc3, 0x01]), Buffer.alloc(8, 0xab), Buffer.from('body')]),
      },
    ];
    // Bad records in the middle of a batch: the valid ones around them must go on.
    const mixed = [...encoded.slice(0, 1000), ...bad, ...encoded.slice(1000)];
    await bus.publish(config.topics.events, mixed);
    await until(() => processor.stats().received === mixed.length, 'the processor to take every record');

    expect(processor.stats().stored).toBe(traffic.length);
    expect(await count('SELECT count() AS n FROM events FINAL WHERE tenant = {tenant:String}')).toBe(traffic.length);
    expect(await count('SELECT count() AS n FROM anomaly_scores FINAL WHERE tenant = {tenant:String}')).toBe(
      traffic.length,
    );

    await until(() => deadLetters.length === 3, 'three dead letters');
    expect(deadLetters.map((r) => r.headers['aispm.dlq.code']).sort()).toEqual([
      'bad_header',
      'invalid_event',
      'unknown_schema',
    ]);
    const invalid = deadLetters.find((r) => r.headers['aispm.dlq.code'] === 'invalid_event');
    expect(invalid?.headers['aispm.dlq.reason']).toBe('input_tokens must be a non-negative integer, got -3');
    expect(invalid?.headers['aispm.dlq.source']).toMatch(/^aispm\.events\.v1\/\d+\/\d+$/);
    expect(processor.stats().deadLettered).toEqual({ bad_header: 1, invalid_event: 1, unknown_schema: 1 });
  });

  it('stores events field for field as they were published', async () => {
    const sample = traffic.find((e) => e.kind === 'llm_call' && e.status === 'ok');
    const [row] = await store.query<Record<string, unknown>>(
      `SELECT app, agent, kind, provider, response_model, input_tokens, output_tokens, toUnixTimestamp64Micro(time) AS micros
       FROM events FINAL WHERE event_id = {id:String}`,
      { id: sample?.event_id },
    );
    expect(row).toEqual({
      app: sample?.app,
      agent: sample?.agent,
      kind: 'llm_call',
      provider: sample?.provider,
      response_model: sample?.response_model,
      input_tokens: sample?.input_tokens,
      output_tokens: sample?.output_tokens,
      micros: String(sample?.time),
    });
  });

  it('stores each score under the entity it was scored as: its agent, or its app for spans without one', async () => {
    // The demo's spans all have an agent; one without, under a tenant of its own so the counts above stay whole.
    const appOnly = sampleEvent({ tenant: 'solo', agent: null, time: endMs * 1000 });
    const stored = processor.stats().stored;
    await bus.publish(config.topics.events, [{ key: eventKey(appOnly), value: codec.encode(appOnly) }]);
    await until(() => processor.stats().stored === stored + 1, 'the span without an agent');
    const rows = await store.query<{ entity_type: string; expected: number; n: string }>(
      `SELECT s.entity_type AS entity_type, s.entity = concat(e.tenant, '/', e.app, '/', if(e.agent = '', '-', e.agent))
              AND s.entity_type = if(e.agent = '', 'app', 'agent') AS expected, count() AS n
       FROM (SELECT event_id, entity, entity_type FROM anomaly_scores FINAL) AS s
       INNER JOIN (SELECT event_id, tenant, app, agent FROM events FINAL) AS e USING (event_id)
       GROUP BY entity_type, expected ORDER BY entity_type, expected`,
    );
    expect(rows.map((r) => [r.entity_type, r.expected, Number(r.n)])).toEqual([
      ['agent', 1, traffic.length],
      ['app', 1, 1],
    ]);
  });

  it('does not double count a replayed batch (idempotent sink)', async () => {
    const before = processor.stats().received;
    await bus.publish(config.topics.events, encoded.slice(0, 500));
    await until(() => processor.stats().received === before + 500, 'the replayed records');
    expect(await count('SELECT count() AS n FROM events FINAL WHERE tenant = {tenant:String}')).toBe(traffic.length);
    expect(await count('SELECT uniqExact(event_id) AS n FROM anomaly_scores WHERE tenant = {tenant:String}')).toBe(
      traffic.length,
    );
  });

  it('scores the injected misbehaviour above the benign traffic', async () => {
    const rows = await store.query<{ labeled: number; score: number }>(
      `SELECT e.attributes['aispm.demo.label'] != '' AS labeled, max(s.score) AS score
       FROM (SELECT event_id, score FROM anomaly_scores FINAL WHERE tenant = {tenant:String} AND NOT learning) AS s
       INNER JOIN (SELECT event_id, attributes FROM events FINAL WHERE tenant = {tenant:String}) AS e USING (event_id)
       GROUP BY labeled ORDER BY labeled`,
      { tenant: 'acme' },
    );
    const [benign, injected] = rows;
    expect(injected?.score).toBeGreaterThan(0.9);
    expect(injected!.score).toBeGreaterThan(benign!.score);
  });
});
