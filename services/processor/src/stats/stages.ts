import { hostname } from 'node:os';
import { consumerGroups, type Config } from '@aispm/core';
import type { Bus } from '@aispm/bus';
import type { GenAiSink } from '../genai-sink.ts';
import type { Processor } from '../processor.ts';
import type { TraceStage } from '../traces/trace-stage.ts';
import type { CounterSource, StageSpec } from './collector.ts';

/** The stages whose counters the stats read; any may be absent (not started, or turned off). */
export interface StatsStages {
  traces?: TraceStage | null;
  agents?: Processor | null;
  entities?: Processor | null;
  genai?: GenAiSink | null;
}

/** The name a process gives its rows: host and pid. */
export const defaultInstance = (): string => `${hostname()}:${process.pid}`;

/**
 * The pipeline's stages as PipelineStats sees them: topic and consumer group (so the
 * metered bus knows their batches), the counters each keeps, and its lag as the bus
 * reports it. Stages are looked up when read, so the specs can be made before the
 * stages exist (the bus is metered before they subscribe).
 */
export function pipelineStageSpecs(
  config: Pick<Config, 'topics' | 'processor'>,
  bus: Pick<Bus, 'backlog'>,
  stages: () => StatsStages,
  /** Lag per partition where it can be told (KafkaPartitionLag, distributed mode). */
  partitions?: { lag(topic: string, group: string): ReadonlyMap<number, number> | null },
): StageSpec[] {
  const { topics } = config;
  const groups = consumerGroups(config.processor.group);
  const lag = (topic: string, group: string) => (): number | null =>
    bus.backlog ? bus.backlog(topic, group).records : null;
  const partitionLag = (topic: string, group: string) => (): ReadonlyMap<number, number> | null =>
    partitions?.lag(topic, group) ?? null;
  const source = (read: CounterSource['read']): CounterSource => ({ read });
  // GenAI records that are no known Avro record: one count for both sinks, credited to the first to read it.
  const genaiDrops = source(() => ({ drops: stages().genai?.stats.undecodable ?? 0 }));
  const specs: StageSpec[] = [
    {
      stage: 'traces',
      topic: topics.events,
      group: groups.traces,
      lag: lag(topics.events, groups.traces),
      partitionLag: partitionLag(topics.events, groups.traces),
      sources: [
        source(() => {
          const t = stages().traces?.stats();
          if (!t) return {};
          return {
            records_out: t.forwarded,
            own: t.own,
            inherited: t.inherited,
            unattributed: t.none,
            merged: t.merged,
          };
        }),
      ],
    },
    {
      stage: 'agents',
      topic: topics.attributed,
      group: groups.agents,
      lag: lag(topics.attributed, groups.agents),
      partitionLag: partitionLag(topics.attributed, groups.agents),
      sources: [source(() => ({ records_out: stages().agents?.stats().stored ?? 0 }))],
    },
    {
      stage: 'entities',
      topic: topics.entities,
      group: groups.entities,
      lag: lag(topics.entities, groups.entities),
      partitionLag: partitionLag(topics.entities, groups.entities),
      sources: [source(() => ({ records_out: stages().entities?.stats().stored ?? 0 }))],
    },
    {
      stage: 'genai-logs',
      topic: topics.genaiLogs,
      group: groups.genaiLogs,
      lag: lag(topics.genaiLogs, groups.genaiLogs),
      partitionLag: partitionLag(topics.genaiLogs, groups.genaiLogs),
      sources: [source(() => ({ records_out: stages().genai?.stats.logs ?? 0 })), genaiDrops],
    },
    {
      stage: 'genai-metrics',
      topic: topics.genaiMetrics,
      group: groups.genaiMetrics,
      lag: lag(topics.genaiMetrics, groups.genaiMetrics),
      partitionLag: partitionLag(topics.genaiMetrics, groups.genaiMetrics),
      sources: [source(() => ({ records_out: stages().genai?.stats.metrics ?? 0 })), genaiDrops],
    },
  ];
  // Without the entities stage (AISPM_PROCESSOR_FLEET=false) its topic has no consumer to report on.
  return config.processor.fleet ? specs : specs.filter((s) => s.stage !== 'entities');
}
