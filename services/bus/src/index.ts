// @aispm/bus: the Bus contract and its implementations (in-process memory, durable SQLite, Kafka).
// Pipeline-only: never loaded into a customer's app (the shim publishes through core's Publisher).

export type {
  Bus,
  Batch,
  BatchHandler,
  BusRecord,
  OutgoingRecord,
  SubscribeOptions,
  Subscription,
  TopicSpec,
} from './bus.ts';
export { MemoryBus, type MemoryBusOptions } from './memory.ts';
export { KafkaBus, type KafkaBusOptions, type KafkaConsumerTiming } from './kafka.ts';
export { SqliteBus, type SqliteBusOptions } from './sqlite.ts';
/** kafkajs with the fixes the bus relies on; run kafkajs (e.g. a changelog reader) through this, not 'kafkajs'. */
export { kafkajs, kafkajsFixes, verifyKafkajsFixes } from './kafkajs.ts';
export type { BusLog } from './log.ts';
export type { RetryBackoff } from './retry.ts';
