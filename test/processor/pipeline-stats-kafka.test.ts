import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRuntime } from '@aispm/cli';
import { createEventCodec, loadConfig, sampleEvent, silentLogger, traceKey, type OutgoingRecord } from '@aispm/core';
import { describe, expect, inject, it } from 'vitest';
import { until } from '../support/until.ts';

/**
 * The pipeline in distributed mode (a real Kafka broker, chdb as the store): the
 * pipeline_stats rows count the stages' records through the Kafka bus and carry
 * the lag the brokers report. (A file of its own: chdb opens one data folder per process.)
 */
const PARTITIONS = 3;
const EVENTS = 300;
const BAD = 7;

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

describe('pipeline stats in distributed mode (Kafka)', () => {
  it('counts the stages’ records through the Kafka bus, and the lag the brokers report', async () => {
    const suffix = `stats-${Date.now()}`;
    const topics = [
      'EVENTS',
      'SCORES',
      'FINDINGS',
      'STATE',
      'DEAD_LETTER',
      'ENTITIES',
      'ATTRIBUTED',
      'TRACE_STATE',
      'ENTITY_STATE',
      'GENAI_LOGS',
      'GENAI_METRICS',
    ];
    const dir = mkdtempSync(join(tmpdir(), 'aispm-pipeline-stats-kafka-'));
    const config = loadConfig({
      AISPM_MODE: 'distributed',
      AISPM_STORE: 'chdb',
      AISPM_DATA_DIR: dir,
      AISPM_PARTITIONS: String(PARTITIONS),
      AISPM_PROCESSOR_GROUP: `aispm-${suffix}`,
      AISPM_PROCESSOR_ENTITIES_LINGER_MS: '0',
      KAFKA_BROKERS: inject('kafkaBrokers').join(','),
      ...Object.fromEntries(topics.map((t) => [`AISPM_TOPIC_${t}`, `aispm.${t.toLowerCase()}.${suffix}`])),
    });
    const kafka = await startRuntime(config, silentLogger);
    try {
      await kafka.bus.publish(config.topics.events, traffic());
      await until(() => kafka.processor.stats().received >= EVENTS, 'the agents stage to take every event', {
        timeoutMs: 90_000,
      });
      const sums = async () =>
        (
          await kafka.store.query<{ stage: string; records_in: string; published: string; dead_letters: string }>(
            `SELECT stage, toString(sum(records_in)) AS records_in, toString(sum(published)) AS published,
               toString(sum(dead_letters)) AS dead_letters
             FROM pipeline_stats WHERE stage IN ('traces', 'agents') GROUP BY stage ORDER BY stage`,
          )
        ).map((r) => [r.stage, Number(r.records_in), Number(r.published), Number(r.dead_letters)]);
      // The brokers' lag is refreshed in the background: flush until each stage's latest, and each traces partition's
      // (the brokers tell the lag per partition), says none is left.
      const latest = async (where: string) =>
        (
          await kafka.store.query<{ partition: number; latest: string }>(
            `SELECT partition, toString(argMax(lag, time)) AS latest FROM pipeline_stats
             WHERE lag IS NOT NULL AND ${where} GROUP BY stage, partition ORDER BY stage, partition`,
          )
        ).map((r) => [r.partition, r.latest]);
      await until(
        async () => {
          await kafka.statsWriter.flush();
          const stages = await latest("partition = -1 AND stage IN ('traces', 'agents')");
          const partitions = await latest("partition >= 0 AND stage = 'traces'");
          return stages.length === 2 && stages.every(([, l]) => l === '0') && partitions.length === PARTITIONS;
        },
        'the latest lag of the traces and agents stages, and of each traces partition',
        { timeoutMs: 60_000, everyMs: 500 },
      );
      expect(await latest("partition >= 0 AND stage = 'traces'")).toEqual([
        [0, '0'],
        [1, '0'],
        [2, '0'],
      ]);
      // Traces: every record in, the events and the dead letters out.
      expect(await sums()).toEqual([
        ['agents', EVENTS, expect.any(Number), 0],
        ['traces', EVENTS + BAD, EVENTS, BAD],
      ]);
    } finally {
      await kafka.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
