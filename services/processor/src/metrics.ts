import { Counter, Gauge, Registry } from 'prom-client';
import type { Processor } from './processor.ts';
import type { TraceStage } from './traces/trace-stage.ts';

export interface PipelineStages {
  traces: TraceStage;
  agents: Processor;
  entities: Processor | null;
}

/**
 * The processor's Prometheus metrics, read from the stages' own counters at each
 * scrape (collect), in a registry of their own: `aispm up` serves them on the
 * gateway's metrics listener.
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
    help: 'Records sent to the dead-letter topic, by stage and reason code',
    labelNames: ['stage', 'code'],
    registers,
    collect() {
      this.reset();
      const by = { traces: traces.stats().deadLettered, agents: agents.stats().deadLettered };
      for (const [stage, codes] of Object.entries(by))
        for (const [code, n] of Object.entries(codes)) this.inc({ stage, code }, n);
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
  return registry;
}
