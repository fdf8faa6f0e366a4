// @aispm/core: the event model, codecs, configuration, and the Bus and Store contracts with their implementations.

export { AispmError, ConfigError, InvalidRecordError, describeError } from './errors.ts';
export { loadConfig, CONFIG_KEYS, type Config } from './config/config.ts';
export { createLogger, silentLogger, type Logger, type LogLevel } from './log.ts';

// event
export {
  EVENT_KINDS,
  TOOL_RISKS,
  CAPTURE_POLICIES,
  eventKey,
  eventIdOf,
  type AiEvent,
  type EventKind,
  type ToolRisk,
  type CapturePolicy,
  type EventContent,
  type EventStatus,
} from './event/types.ts';
export { AvroCodec, createCodec, loadSchemaVersions, SCHEMA_DIR } from './event/codec.ts';
export { sampleEvent } from './event/sample.ts';
export { createEventCodec } from './event/event-codec.ts';
export { invalidReason, EVENT_LIMITS } from './event/validate.ts';

// bus
export type {
  Bus,
  Batch,
  BatchHandler,
  BusRecord,
  OutgoingRecord,
  SubscribeOptions,
  Subscription,
  TopicSpec,
} from './bus/bus.ts';

// store
export type { Store, Row, QueryParams } from './store/store.ts';

// otel mapping and content capture

