import { Counter, Gauge, Registry } from 'prom-client';
import type { Processor } from './processor.ts';
import { lagOf, partitionLagOf, type PartitionCounts, type PipelineStats } from './stats/collector.ts';
import type { TraceStage } from './traces/trace-stage.ts';

export interface PipelineStages {
  traces: TraceStage;
  agents: Processor;
  entities: Processor | null;
  /** Per stage and partition: throughput, dead letters, drops, batch time, lag (the runtime's metered bus). */
  pipeline?: PipelineStats;
}

/**
 * The processor's Prometheus metrics, read from the stages' own counters at each
 * scrape (collect), in a registry of their own: `aispm up` serves them on the
 * gateway's metrics listener, or without the gateway on its own (startMetricsListener).
 */
export function processorMetrics(stages: PipelineStages): Registry {
  const registry = new Registry();
  const registers = [registry];
  const { traces, agents, entities } = stages;
  new Counter({
    name: 'aispm_traces_events_total',
    help: 'Events sent on by trace assembly, by how their agent was attributed (own, inherited, none)',
    labelNames: ['attribution'],
    registers,
    collect() {
      const s = traces.stats();
      this.reset();
      for (const attribution of ['own', 'inherited', 'none'] as const) this.inc({ attribution }, s[attribution]);
    },
  });
  new Counter({
    name: 'aispm_traces_merged_total',
    help: 'Second reports of a model call (two instrumentations) merged into the first',
    registers,
    collect() {
      this.reset();
      this.inc(traces.stats().merged);
    },
  });
  new Counter({
    name: 'aispm_traces_cut_total',
    help: 'Events attributed with what was known before their walk to an agent or a root ended, by reason',
    labelNames: ['reason'],
    registers,
    collect() {
      const { cut } = traces.stats();
      this.reset();
      for (const [reason, n] of Object.entries(cut)) this.inc({ reason }, n);
    },
  });
  new Gauge({
    name: 'aispm_traces_waiting_events',
    help: 'Events waiting for their agent span',
    registers,
    collect() {
      this.set(traces.stats().waiting);
    },
  });
  new Gauge({
    name: 'aispm_traces_held',
    help: 'Traces held for attribution',
    registers,
    collect() {
      this.set(traces.stats().traces);
    },
  });
  new Counter({
    name: 'aispm_processor_dead_lettered_total',
    help: 'Records sent to the dead-letter topic, by stage and reason code (store_rejected: rows the store refused for good)',
    labelNames: ['stage', 'code'],
    registers,
    collect() {
      this.reset();
      const by = {
        traces: traces.stats().deadLettered,
        agents: agents.stats().deadLettered,
        ...(entities ? { entities: entities.stats().deadLettered } : {}),
      };
      for (const [stage, codes] of Object.entries(by))
        for (const [code, n] of Object.entries(codes)) this.inc({ stage, code }, n);
    },
  });
  new Counter({
    name: 'aispm_processor_store_retries_total',
    help: 'Store inserts tried again after a retryable failure (network, timeout, memory, too many parts), by stage',
    labelNames: ['stage'],
    registers,
    collect() {
      this.reset();
      this.inc({ stage: 'agents' }, agents.stats().storeRetries);
      if (entities) this.inc({ stage: 'entities' }, entities.stats().storeRetries);
    },
  });
  new Counter({
    name: 'aispm_processor_events_stored_total',
    help: 'Events stored and scored by the agents stage',
    registers,
    collect() {
      this.reset();
      this.inc(agents.stats().stored);
    },
  });
  new Counter({
    name: 'aispm_processor_findings_total',
    help: 'Findings raised, by stage',
    labelNames: ['stage'],
    registers,
    collect() {
      this.reset();
      this.inc({ stage: 'agents' }, agents.stats().findings);
      if (entities) this.inc({ stage: 'entities' }, entities.stats().findings);
    },
  });
  if (stages.pipeline) pipelineMetrics(stages.pipeline, registers);
  return registry;
}

/** Running totals per stage and partition, from PipelineStats; the same figures as the pipeline_stats table. */
function pipelineMetrics(stats: PipelineStats, registers: Registry[]): void {
  const labelNames = ['stage', 'partition'] as const;
  const counter = (name: string, help: string, value: (c: PartitionCounts) => number): void => {
    new Counter({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const { stage, partition, counts } of stats.totals())
          this.inc({ stage, partition: partitionLabel(partition) }, value(counts));
      },
    });
  };
  counter(
    'aispm_pipeline_records_in_total',
    'Records taken off the stage topic, by stage and partition',
    (c) => c.records_in,
  );
  counter(
    'aispm_pipeline_records_out_total',
    'What the stage passed on (traces: attributed events; agents, entities: events stored; genai: rows), by stage and partition',
    (c) => c.records_out,
  );
  counter('aispm_pipeline_published_total', 'Records the stage published, dead letters left out', (c) => c.published);
  counter(
    'aispm_pipeline_dead_letters_total',
    'Records the stage sent to the dead-letter topic',
    (c) => c.dead_letters,
  );
  counter('aispm_pipeline_drops_total', 'Records let go with neither an output nor a dead letter', (c) => c.drops);
  counter('aispm_pipeline_batches_total', 'Batches handled and committed', (c) => c.batches);
  counter(
    'aispm_pipeline_batch_seconds_total',
    'Time in the stage handler, summed over batches',
    (c) => c.batch_ms_sum / 1000,
  );
  counter(
    'aispm_pipeline_attributed_total',
    'Events sent on by trace assembly with an agent (own or inherited)',
    (c) => c.own + c.inherited,
  );
  counter('aispm_pipeline_merged_total', 'Second reports of a model call merged into the first', (c) => c.merged);
  new Gauge({
    name: 'aispm_pipeline_lag_records',
    help: 'Records on the stage topic its consumer group has not committed, as the bus reports it (per topic)',
    labelNames: ['stage', 'topic'],
    registers,
    collect() {
      this.reset();
      for (const spec of stats.stages) {
        const lag = lagOf(spec);
        if (lag !== null) this.set({ stage: spec.stage, topic: spec.topic }, lag);
      }
    },
  });
  new Gauge({
    name: 'aispm_pipeline_partition_lag_records',
    help: 'The same per partition, where the bus tells it (Kafka: as the brokers report it, about once a second)',
    labelNames: ['stage', 'partition'],
    registers,
    collect() {
      this.reset();
      for (const spec of stats.stages)
        for (const [partition, lag] of partitionLagOf(spec) ?? [])
          this.set({ stage: spec.stage, partition: String(partition) }, lag);
    },
  });
}

/** The whole-stage entry (counts not tied to one partition) as partition "all". */
const partitionLabel = (partition: number): string => (partition < 0 ? 'all' : String(partition));
