import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consumerGroups, createGenAiLogCodec, loadConfig, silentLogger, type GenAiLogEvent } from '@aispm/core';
import { MemoryBus, type BusRecord } from '@aispm/bus';
import { ChdbStore, migrate, type InsertOptions, type Row, type Store } from '@aispm/store';
import { GenAiSink, GENAI_LOGS_TABLE, STORE_REJECTED } from '@aispm/processor';
import { afterAll, describe, expect, it, vi } from 'vitest';

/**
 * The GenAI sink past a row the engine refuses (issue 22), on chdb: the rest of the
 * batch is stored once, the refused record goes to the dead-letter topic as it came
 * with the engine's error, and the batch is committed.
 */
const { topics } = loadConfig({});
const folder = mkdtempSync(join(tmpdir(), 'aispm-genai-dlq-'));
let store: ChdbStore | undefined;
afterAll(async () => {
  await store?.close();
  rmSync(folder, { recursive: true, force: true });
});

const codec = createGenAiLogCodec();
const now = Date.now() * 1000;
const logs: GenAiLogEvent[] = Array.from({ length: 60 }, (_, i) => ({
  tenant: 'acme',
  log_id: `log-${i}`,
  trace_id: `trace-${i % 7}`,
  span_id: `span-${i}`,
  time: now - (60 - i) * 1_000_000,
  app: 'chat',
  event_name: 'gen_ai.user.message',
  role: 'user',
  content_policy: 'hash',
  content: null,
  detected: [],
}));
const BAD = 'log-41';

describe('GenAiSink past a refused row (chdb)', () => {
  it('stores every other row once, dead-letters the refused record with the engine error, and commits', async () => {
    store = await ChdbStore.open({ path: folder, database: 'aispm' });
    await migrate(store);
    const opened = store;
    // The row of BAD arrives with a value its column's type refuses (Array(String) given a number).
    const refusing = new Proxy(opened, {
      get(target, name, receiver) {
        if (name === 'insert')
          return (table: string, rows: readonly Row[], options?: InsertOptions) =>
            target.insert(
              table,
              rows.map((r) => (r.log_id === BAD ? { ...r, detected: 7 } : r)),
              options,
            );
        const value: unknown = Reflect.get(target, name, receiver);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    }) as Store;
    const bus = new MemoryBus({ log: () => undefined });
    await bus.ensureTopics(
      [topics.genaiLogs, topics.genaiMetrics, topics.deadLetter].map((topic) => ({ topic, partitions: 1 })),
    );
    await bus.publish(
      topics.genaiLogs,
      logs.map((l) => ({ key: l.tenant, value: codec.encode(l) })),
    );
    const sink = new GenAiSink({ bus, store: refusing, topics, group: 'gdlq', log: silentLogger, maxBatchSize: 30 });
    await sink.start();
    await vi.waitUntil(() => sink.stats.logs + sink.stats.deadLettered === logs.length, { timeout: 60_000 });
    await sink.stop();
    const dead: BusRecord[] = [];
    const reader = await bus.subscribe({
      topic: topics.deadLetter,
      group: 'dlq-reader',
      handler: (batch) => {
        dead.push(...batch.records);
        return Promise.resolve();
      },
    });
    await vi.waitUntil(() => bus.backlog(topics.deadLetter, 'dlq-reader').records === 0, { timeout: 10_000 });
    await reader.stop();
    const backlog = bus.backlog(topics.genaiLogs, consumerGroups('gdlq').genaiLogs);
    await bus.close();

    const [row] = await opened.query<{ n: string; ids: string; bad: string }>(
      `SELECT count() AS n, uniqExact(log_id) AS ids, countIf(log_id = {bad:String}) AS bad FROM ${GENAI_LOGS_TABLE}`,
      { bad: BAD },
    );
    expect(row).toEqual({ n: String(logs.length - 1), ids: String(logs.length - 1), bad: '0' });
    expect(sink.stats).toMatchObject({ logs: logs.length - 1, deadLettered: 1 });
    expect(dead).toHaveLength(1);
    expect(codec.decode(dead[0]!.value)).toMatchObject({ log_id: BAD });
    expect(dead[0]!.headers).toMatchObject({
      'aispm.dlq.code': STORE_REJECTED,
      'aispm.dlq.table': GENAI_LOGS_TABLE,
      'aispm.dlq.source': `${topics.genaiLogs}/0/41`,
    });
    expect(dead[0]!.headers['aispm.dlq.reason']).toMatch(/chdb refused the insert of 1 rows into genai_log_events/);
    expect(backlog.records).toBe(0);
  }, 120_000);
});
