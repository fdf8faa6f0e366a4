import { join } from 'node:path';
import {
  ChdbStore,
  ClickHouseStore,
  KafkaBus,
  MemoryBus,
  migrate,
  type Bus,
  type Config,
  type Logger,
  type Store,
} from '@aispm/core';
import { KafkaChangelog, Processor } from '@aispm/processor';

/**
 * The pipeline in one process: a bus, a store with its migrations applied, and
 * the processor consuming the events topic. Which bus and store depends only on
 * the configured mode; everything downstream is the same code.
 */
export interface Runtime {
  bus: Bus;
  store: Store;
  processor: Processor;
  /** Drains the processor, then closes the bus and the store. */
  close(): Promise<void>;
}

export async function openStore(config: Config, log: Logger): Promise<Store> {
  const kind = config.store === 'auto' ? (config.mode === 'embedded' ? 'chdb' : 'clickhouse') : config.store;
  const store =
    kind === 'chdb'
      ? await ChdbStore.open({ path: join(config.dataDir, 'chdb'), database: config.clickhouse.database })
      : await ClickHouseStore.open({ ...config.clickhouse });
  const applied = await migrate(store);
  if (applied.length > 0) log.info('migrations applied', { applied });
  return store;
}

export function openBus(config: Config, log: Logger): Bus {
  const busLog = (message: string, level: 'warn' | 'error'): void => log[level](message);
  return config.mode === 'embedded'
    ? new MemoryBus({ log: busLog })
    : new KafkaBus({
        brokers: config.kafka.brokers,
        clientId: config.kafka.clientId,
        log: busLog,
        consumer: {
          sessionTimeoutMs: config.kafka.sessionTimeoutMs,
          heartbeatIntervalMs: Math.min(3000, Math.floor(config.kafka.sessionTimeoutMs / 3)),
        },
      });
}

export async function startRuntime(config: Config, log: Logger): Promise<Runtime> {
  const store = await openStore(config, log);
  const bus = openBus(config, log);
  const { topics } = config;
  await bus.ensureTopics([
    { topic: topics.events, partitions: config.partitions },
    { topic: topics.scores, partitions: config.partitions },
    { topic: topics.findings, partitions: config.partitions },
    { topic: topics.deadLetter, partitions: 1 },
    { topic: topics.state, partitions: config.partitions, compacted: true },
  ]);
  // Distributed: state on the compacted changelog next to the events; embedded: in the store.
  const state =
    bus.kind === 'kafka'
      ? new KafkaChangelog({
          bus,
          brokers: config.kafka.brokers,
          clientId: config.kafka.clientId,
          topic: topics.state,
          eventsTopic: topics.events,
        })
      : undefined;
  const processor = new Processor({
    bus,
    store,
    topics,
    log,
    state,
    group: config.processor.group,
    maxBatchSize: config.processor.maxBatchSize,
    concurrency: config.processor.concurrency,
    findingThreshold: config.processor.findingThreshold,
    analytics: config.analytics,
    drift: { watch: config.analytics.psiWatch, act: config.analytics.psiAct },
  });
  await processor.start();
  return {
    bus,
    store,
    processor,
    async close() {
      await processor.stop();
      await bus.close();
      await store.close();
    },
  };
}
