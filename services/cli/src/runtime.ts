import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { consumerGroups, type Config, type Logger } from '@aispm/core';
import { KafkaBus, SqliteBus, type Bus } from '@aispm/bus';
import { ChdbStore, ClickHouseStore, migrate, type Store } from '@aispm/store';
import { pipelineTopics } from './topics.ts';
import {
  EMPTY_POLICY,
  GenAiSink,
  KafkaChangelog,
  KafkaPartitionLag,
  MeteredBus,
  PipelineStats,
  PostureJob,
  Processor,
  StatsWriter,
  StoreStateTable,
  TraceStage,
  behaviourRaiser,
  defaultInstance,
  pipelineStageSpecs,
  policySource,
  type StatsStages,
} from '@aispm/processor';

/**
 * The pipeline in one process: a bus, a store with its migrations applied, and
 * the processor's stages: traces (trace assembly: the events topic → the
 * attributed topic), agents (per-agent baselines) and, unless turned off,
 * entities (fleet-wide baselines, fed by the agents stage). Which bus and store
 * depends only on the configured mode; everything downstream is the same code.
 */
export interface Runtime {
  bus: Bus;
  store: Store;
  /** Trace assembly: attributes events to their agents and merges calls reported twice. */
  traces: TraceStage;
  processor: Processor;
  /** Writes the posture scores to the store every AISPM_POSTURE_INTERVAL_S. */
  posture: PostureJob;
  /** The entities stage, or null when AISPM_PROCESSOR_FLEET is false. */
  entities: Processor | null;
  /** Stores the GenAI log events and metric points the gateway takes on /v1/logs and /v1/metrics. */
  genai: GenAiSink;
  /** What the stages do per partition (fed by the bus, which is metered): for /metrics and the stats table. */
  stats: PipelineStats;
  /** Writes `stats` to the pipeline_stats table every AISPM_STATS_INTERVAL_S. */
  statsWriter: StatsWriter;
  /**
   * Waits until the stages have processed and committed everything on the bus
   * (embedded: the on-disk log; nothing to wait for on Kafka, which keeps it),
   * calling `progress` with what is left about once a second. Resolves false when
   * `signal` aborts first.
   */
  drain(progress?: (left: Backlog) => void, signal?: AbortSignal): Promise<boolean>;
  /** Records not yet processed by the stages, or null when the bus cannot tell (Kafka). */
  backlog(): Backlog | null;
  /** Lets the batches in flight finish, then closes the bus and the store. */
  close(): Promise<void>;
}

export async function openStore(config: Config, log: Logger): Promise<Store> {
  const kind = config.store === 'auto' ? (config.mode === 'embedded' ? 'chdb' : 'clickhouse') : config.store;
  const store =
    kind === 'chdb'
      ? await ChdbStore.open({ path: join(config.dataDir, 'chdb'), database: config.clickhouse.database })
      : await ClickHouseStore.open({ ...config.clickhouse });
  const retention = config.clickhouse.rollupRetentionDays;
  const applied = await migrate(
    store,
    retention === undefined ? {} : { variables: { rollup_retention_days: retention } },
  );
  if (applied.length > 0) log.info('migrations applied', { applied });
  return store;
}

export interface Backlog {
  events: number;
  bytes: number;
}

export function openBus(config: Config, log: Logger): Bus {
  const busLog = (message: string, level: 'warn' | 'error'): void => log[level](message);
  return config.mode === 'embedded'
    ? new SqliteBus({ path: join(config.dataDir, 'bus'), fsync: config.bus.fsync, log: busLog })
    : new KafkaBus({
        brokers: config.kafka.brokers,
        clientId: config.kafka.clientId,
        log: busLog,
        consumer: { sessionTimeoutMs: config.kafka.sessionTimeoutMs },
      });
}

export async function startRuntime(config: Config, log: Logger): Promise<Runtime> {
  const store = await openStore(config, log);
  const stages: StatsStages = {};
  const raw = openBus(config, log);
  // Kafka's brokers tell the lag per partition; the embedded bus, per topic only.
  const partitionLag = raw.kind === 'kafka' ? new KafkaPartitionLag(config.kafka) : undefined;
  const stats = new PipelineStats({
    stages: pipelineStageSpecs(config, raw, () => stages, partitionLag),
    deadLetterTopic: config.topics.deadLetter,
    stateTopics: [config.topics.traceState, config.topics.state, config.topics.entityState],
    instance: defaultInstance(),
  });
  // Every stage reads and publishes through the metered bus, which credits its batches to `stats`.
  const bus = new MeteredBus(raw, stats);
  const { topics } = config;
  // Every topic with its partitions and retention, as `aispm topics create` makes them.
  await bus.ensureTopics(pipelineTopics(config));
  const { fleet } = config.processor;
  const processor = stageProcessor(config, log, bus, store, 'agents');
  const entities = fleet ? stageProcessor(config, log, bus, store, 'entities') : null;
  const traces = traceStage(config, log, bus, store);
  Object.assign(stages, { traces, agents: processor, entities });
  await entities?.start();
  await processor.start();
  await traces.start();
  const genai = new GenAiSink({
    bus,
    store,
    topics,
    group: config.processor.group,
    log,
    maxBatchSize: config.processor.maxBatchSize,
  });
  stages.genai = genai;
  await genai.start();
  const statsWriter = new StatsWriter({ store, stats, intervalMs: config.processor.statsIntervalS * 1000, log });
  statsWriter.start();
  const { policyFile, postureIntervalS } = config.processor.detection;
  const posture = new PostureJob({
    store,
    policy: policyFile ? policyOf(policyFile, log) : EMPTY_POLICY,
    intervalMs: postureIntervalS * 1000,
    log,
  });
  posture.start();
  const backlog = (): Backlog | null => {
    // Kafka keeps what the stages have not processed: nothing to drain there, and the lag is the whole group's.
    if (!bus.backlog || bus.kind === 'kafka') return null;
    const groups = consumerGroups(config.processor.group);
    const stages = [
      { topic: topics.events, group: groups.traces },
      { topic: topics.attributed, group: groups.agents },
    ];
    if (fleet) stages.push({ topic: topics.entities, group: groups.entities });
    stages.push({ topic: topics.genaiLogs, group: groups.genaiLogs });
    stages.push({ topic: topics.genaiMetrics, group: groups.genaiMetrics });
    const left = { events: 0, bytes: 0 };
    for (const { topic, group } of stages) {
      const b = bus.backlog(topic, group);
      left.events += b.records;
      left.bytes += b.bytes;
    }
    return left;
  };
  return {
    bus,
    store,
    traces,
    processor,
    entities,
    genai,
    posture,
    stats,
    statsWriter,
    backlog,
    async drain(progress, signal) {
      let reported = 0;
      for (;;) {
        const left = backlog();
        if (left === null || left.events === 0) return true;
        if (signal?.aborted) return false;
        if (Date.now() - reported >= 1000) {
          progress?.(left);
          reported = Date.now();
        }
        await sleep(50);
      }
    },
    async close() {
      // In stream order: each stage's last batches feed the next before it stops.
      await traces.stop();
      await processor.stop();
      await entities?.stop();
      await genai.stop();
      await posture.stop();
      // The last interval, with the stages' final batches.
      await statsWriter.stop();
      await partitionLag?.close();
      await bus.close();
      await store.close();
    },
  };
}

/** Distributed mode: a stage's state on a compacted changelog next to the topic it consumes. */
function changelog(config: Config, bus: Bus, topic: string, consumed: string): KafkaChangelog | undefined {
  if (bus.kind !== 'kafka') return undefined;
  const { brokers, clientId } = config.kafka;
  return new KafkaChangelog({ bus, brokers, clientId, topic, eventsTopic: consumed });
}

function traceStage(config: Config, log: Logger, bus: Bus, store: Store): TraceStage {
  const { topics } = config;
  // Embedded: waiting traces in the store.
  const state = changelog(config, bus, topics.traceState, topics.events) ?? new StoreStateTable(store, topics.events);
  return new TraceStage({
    bus,
    topics,
    state,
    log,
    group: consumerGroups(config.processor.group).traces,
    ...config.processor.attribution,
    maxBatchSize: config.processor.maxBatchSize,
    concurrency: config.processor.concurrency,
  });
}

/** The inventory policy in force, re-read when its file changes. */
const policyOf = (file: string, log: Logger) => policySource(file, 10, log);

function stageProcessor(config: Config, log: Logger, bus: Bus, store: Store, stage: 'agents' | 'entities'): Processor {
  const { topics } = config;
  const consumed = stage === 'agents' ? topics.attributed : topics.entities;
  // Embedded: undefined, the processor keeps its state in the store.
  const state = changelog(config, bus, stage === 'agents' ? topics.state : topics.entityState, consumed);
  return new Processor({
    bus,
    store,
    topics,
    log,
    state,
    stage,
    fleet: config.processor.fleet,
    group: config.processor.group,
    maxBatchSize: config.processor.maxBatchSize,
    lingerMs: stage === 'entities' ? config.processor.entitiesLingerMs : 0,
    concurrency: config.processor.concurrency,
    findingThreshold: config.processor.findingThreshold,
    findingQuietMinutes: config.processor.detection.quietMinutes,
    detection: stage === 'agents' ? behaviourRaiser({ ...config.processor.detection, log }) : undefined,
    analytics: config.analytics,
    drift: { watch: config.analytics.psiWatch, act: config.analytics.psiAct },
  });
}
