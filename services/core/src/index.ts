// @aispm/core: the event model, codecs, configuration, and the Bus and Store contracts with their implementations.

export { AispmError, ConfigError, InvalidRecordError, describeError } from './errors.ts';
export { loadConfig, CONFIG_KEYS, type Config } from './config/config.ts';
export { createLogger, silentLogger, type Logger, type LogLevel } from './log.ts';
export { tuneGarbageCollection } from './gc.ts';
export { sizeThreadPool } from './thread-pool.ts';

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
export { MemoryBus, type MemoryBusOptions } from './bus/memory.ts';
export { KafkaBus, type KafkaBusOptions, type KafkaConsumerTiming } from './bus/kafka.ts';
export { SqliteBus, type SqliteBusOptions } from './bus/sqlite.ts';
/** kafkajs with the fixes the bus relies on; run kafkajs (e.g. a changelog reader) through this, not 'kafkajs'. */
export { kafkajs, kafkajsFixes } from './bus/kafkajs.ts';
export type { BusLog } from './bus/log.ts';
export type { RetryBackoff } from './bus/retry.ts';

// store
export { ChdbStore, type ChdbStoreOptions } from './store/chdb.ts';
export { ClickHouseStore, type ClickHouseStoreOptions } from './store/clickhouse.ts';
export {
  migrate,
  MIGRATIONS_DIR,
  type MigrateOptions,
  type MigrationFile,
  type AppliedMigration,
} from './store/migrate.ts';
export { eventRow, clickhouseTime, EVENTS_FROM_AVRO, EVENTS_TABLE } from './store/event-row.ts';
export { StoreError } from './store/store-error.ts';
export type { Store, Row, QueryParams, AvroColumns, AvroRecords } from './store/store.ts';

// otel mapping and content capture
export {
  SPAN_LIMITS,
  type SpanInput,
  type SpanAttributes,
  type AttributeValue,
  type SpanInputStatus,
} from './otel/span-input.ts';
export { fromReadableSpan } from './otel/from-readable-span.ts';
export { fromOtlpJson, type OtlpJsonResult, type RejectedSpan } from './otel/from-otlp-json.ts';
export { spanToEvent, UNKNOWN_APP, type SpanToEventOptions, type SpanToEventResult } from './otel/span-to-event.ts';
export { mapSpans, type MappedSpans, type MapSpansOptions } from './otel/span-records.ts';
export { captureContent, effectivePolicy, hmacHex, type CaptureOptions, type RawContent } from './content/capture.ts';
export { redact, findSensitive, type Redaction } from './content/redact.ts';
export {
  cleanIdentifier,
  identifierProtector,
  IDENTIFIER_POLICIES,
  type IdentifierOptions,
  type IdentifierPolicy,
} from './content/identifiers.ts';
export { PII_KINDS, SECRET_KINDS, type RedactionKind } from './content/redaction-rules.ts';
export { truncateUtf8 } from './content/truncate.ts';
