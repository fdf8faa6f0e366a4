import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRuntime, type Runtime } from '@aispm/cli';
import {
  createEventCodec,
  loadConfig,
  partitionOfRecord,
  sampleEvent,
  silentLogger,
  traceKey,
  type OutgoingRecord,
} from '@aispm/core';
import { processorMetrics, startMetricsListener, type MetricsListener } from '@aispm/processor';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The pipeline in one process (embedded bus, chdb) over events with an agent and a
 * few records keyed to the wrong trace (dead-lettered by trace assembly): the
 * pipeline_stats rows the processor writes, and its /metrics scraped over HTTP with
 * fetch and read with a Prometheus text-format parser, count what was processed,
 * per stage and partition.
 */
const PARTITIONS = 3;
const EVENTS = 300;
const BAD = 7;
const dataDir = mkdtempSync(join(tmpdir(), 'aispm-pipeline-stats-'));
let runtime: Runtime;
let metrics: MetricsListener;
/** Records published to each partition of the events topic. */
const perPartition = new Map<number, number>();

beforeAll(async () => {
  const config = loadConfig({}, { dataDir, partitions: String(PARTITIONS), statsIntervalS: '1' });
  runtime = await startRuntime(config, silentLogger);
  const registry = processorMetrics({
    traces: runtime.traces,
    agents: runtime.processor,
    entities: runtime.entities,
    pipeline: runtime.stats,
  });
  metrics = await startMetricsListener({ registries: [registry], host: '127.0.0.1', port: 0 });
  const records = traffic();
  for (const r of records) {
    const p = partitionOfRecord(r, PARTITIONS);
    perPartition.set(p, (perPartition.get(p) ?? 0) + 1);
  }
  await runtime.bus.publish(config.topics.events, records);
  await runtime.drain();
  await runtime.statsWriter.flush();
}, 120_000);

/** EVENTS events of five agents, each its own trace, then BAD records keyed to another trace than theirs. */
function traffic(): OutgoingRecord[] {
  const codec = createEventCodec();
  const now = Date.now();
  const records: OutgoingRecord[] = [];
  for (let i = 0; i < EVENTS + BAD; i++) {
    const trace_id = i.toString(16).padStart(32, '0');
    const event = sampleEvent({
      tenant: 'acme',
      trace_id,
      span_id: (i + 1).toString(16).padStart(16, '0'),
      parent_span_id: null,
      event_id: `${trace_id}${i}`,
      kind: 'llm_call',
      agent: `bot-${i % 5}`,
      time: (now - 60_000 + i) * 1000,
    });
    // Keyed to another trace than its own: trace assembly dead-letters it (trace_key_mismatch).
    const key = i < EVENTS ? traceKey(event) : `acme/not-${trace_id}`;
    records.push({ key, value: codec.encode(event) });
  }
  return records;
}

afterAll(async () => {
  await metrics?.close();
  await runtime?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

type StageSums = {
  stage: string;
  records_in: number;
  records_out: number;
  published: number;
  dead_letters: number;
  drops: number;
  batches: number;
  batch_ms: number;
  own: number;
  inherited: number;
  unattributed: number;
};

describe('pipeline stats', () => {
  it('pipeline_stats counts per stage what the stages processed, and nothing left behind', async () => {
    const rows = await runtime.store.query<StageSums>(
      `SELECT stage, toUInt64(sum(records_in)) AS records_in, toUInt64(sum(records_out)) AS records_out,
         toUInt64(sum(published)) AS published, toUInt64(sum(dead_letters)) AS dead_letters,
         toUInt64(sum(drops)) AS drops, toUInt64(sum(batches)) AS batches, sum(batch_ms_sum) AS batch_ms,
         toUInt64(sum(own)) AS own, toUInt64(sum(inherited)) AS inherited, toUInt64(sum(unattributed)) AS unattributed
       FROM pipeline_stats GROUP BY stage ORDER BY stage`,
    );
    const by = Object.fromEntries(
      rows.map((r) => [
        r.stage,
        Object.fromEntries(Object.entries(r).map(([k, v]) => [k, k === 'stage' ? v : Number(v)])),
      ]),
    ) as Record<string, StageSums>;
    expect(Object.keys(by).sort()).toEqual(['agents', 'entities', 'genai-logs', 'genai-metrics', 'traces']);
    expect(by.traces).toMatchObject({
      records_in: EVENTS + BAD,
      records_out: EVENTS,
      published: EVENTS,
      dead_letters: BAD,
      drops: 0,
      own: EVENTS,
      inherited: 0,
      unattributed: 0,
    });
    expect(by.agents).toMatchObject({ records_in: EVENTS, records_out: EVENTS, dead_letters: 0 });
    expect(by.agents!.batches).toBeGreaterThan(0);
    expect(by.agents!.batch_ms).toBeGreaterThan(0);
    // The agents stage re-keys each event for the entities stage, which takes all it published there.
    expect(by.entities!.records_in).toBeGreaterThan(0);
    expect(by['genai-logs']).toMatchObject({ records_in: 0, records_out: 0 });
    // The latest lag of every stage, after the drain: nothing left.
    const lags = await runtime.store.query<{ stage: string; lag: string }>(
      `SELECT stage, toString(argMax(lag, time)) AS lag FROM pipeline_stats WHERE partition = -1 GROUP BY stage`,
    );
    expect(lags.map((l) => l.lag)).toEqual(lags.map(() => '0'));
  });

  it('per partition: what each partition of the events topic held, and no lag on partition rows', async () => {
    const rows = await runtime.store.query<{ partition: number; records_in: string; lags: string }>(
      `SELECT partition, toString(sum(records_in)) AS records_in, toString(countIf(lag IS NOT NULL)) AS lags
       FROM pipeline_stats WHERE stage = 'traces' AND partition >= 0 GROUP BY partition ORDER BY partition`,
    );
    expect(rows.map((r) => [r.partition, Number(r.records_in)])).toEqual([...perPartition].sort(([a], [b]) => a - b));
    expect(rows.every((r) => r.lags === '0')).toBe(true);
  });

  it('/metrics serves the same figures in the Prometheus text format', async () => {
    const response = await fetch(`${metrics.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = new Map(parsePrometheusTextFormat(await response.text()).map((f) => [f.name, f]));
    const sum = (name: string, labels: Record<string, string>): number =>
      (families.get(name)?.metrics ?? [])
        .filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
        .reduce((total, m) => total + Number(m.value), 0);
    expect(families.get('aispm_pipeline_records_in_total')?.type).toBe('COUNTER');
    expect(sum('aispm_pipeline_records_in_total', { stage: 'traces' })).toBe(EVENTS + BAD);
    for (const [p, n] of perPartition)
      expect(sum('aispm_pipeline_records_in_total', { stage: 'traces', partition: String(p) })).toBe(n);
    expect(sum('aispm_pipeline_dead_letters_total', { stage: 'traces' })).toBe(BAD);
    expect(sum('aispm_pipeline_records_out_total', { stage: 'agents' })).toBe(EVENTS);
    expect(sum('aispm_pipeline_attributed_total', { stage: 'traces' })).toBe(EVENTS);
    expect(sum('aispm_traces_events_total', { attribution: 'own' })).toBe(EVENTS);
    expect(sum('aispm_processor_dead_lettered_total', { stage: 'traces', code: 'trace_key_mismatch' })).toBe(BAD);
    expect(families.get('aispm_pipeline_lag_records')?.type).toBe('GAUGE');
    expect(sum('aispm_pipeline_lag_records', { stage: 'traces' })).toBe(0);
    expect(sum('aispm_pipeline_batches_total', { stage: 'agents' })).toBeGreaterThan(0);
    expect(sum('aispm_pipeline_batch_seconds_total', { stage: 'agents' })).toBeGreaterThan(0);
    expect((await fetch(`${metrics.url}/other`)).status).toBe(404);
  });
});
