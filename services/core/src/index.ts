// @aispm/core: the event model, codecs, OTel mapping, capture policy, configuration: what the shim may carry.
// The Bus and Store and their implementations are pipeline-only: @aispm/bus and @aispm/store.

export { AispmError, ConfigError, InvalidRecordError, describeError } from './errors.ts';
export { loadConfig, consumerGroups, CONFIG_KEYS, type Config } from './config/config.ts';
export { keyDigest, matchingKeys, parseTenantKeys, type TenantKey } from './config/tenant-keys.ts';
export { createLogger, silentLogger, type Logger, type LogLevel } from './log.ts';
export { tuneGarbageCollection } from './gc.ts';
export { sizeThreadPool } from './thread-pool.ts';

// event
export {
  EVENT_KINDS,
  TOOL_RISKS,
  CAPTURE_POLICIES,
  eventKey,
  traceKey,
  eventIdOf,
  ATTRIBUTIONS,
  type Attribution,
  type AiEvent,
  type EventKind,
  type ToolRisk,
  type CapturePolicy,
  type EventContent,
  type EventStatus,
} from './event/types.ts';
export { AvroCodec, createCodec, loadSchemaVersions, SCHEMA_DIR } from './event/codec.ts';
export { sampleEvent } from './event/sample.ts';
export { createEventCodec, withAttribution } from './event/event-codec.ts';
export { callIdentity, isTwinCall, mergeCalls, mergeInBatch, RESPONSE_ID } from './event/merge.ts';
export {
  createGenAiLogCodec,
  createGenAiMetricCodec,
  createSpanLinkCodec,
  RECORD_HEADER,
  SPAN_LINK_RECORD,
  type SpanLink,
  type GenAiLogEvent,
  type GenAiMetricPoint,
} from './event/genai-codecs.ts';
export { invalidReason, EVENT_LIMITS } from './event/validate.ts';

// the Finding contract: what every stage that raises or routes findings shares
export {
  dedupFindings,
  findingId,
  mergeFinding,
  MAX_EVENT_IDS,
  SEVERITIES,
  type Finding,
  type FindingStatus,
  type Severity,
} from './finding/finding.ts';
export { createFindingCodec } from './finding/finding-codec.ts';
export {
  toOcsfDetectionFinding,
  atlasAttacks,
  OCSF_VERSION,
  ATLAS_VERSION,
  DETECTION_FINDING_CLASS_UID,
  OCSF_ACTIVITY,
  OCSF_SEVERITY,
  OCSF_STATUS,
  type OcsfOptions,
  type OcsfDetectionFinding,
  type OcsfAttack,
  type OcsfActivity,
} from './finding/ocsf.ts';

// publishing and partitioning (the Bus itself is @aispm/bus)
export type { OutgoingRecord, Publisher } from './publisher.ts';
export { partitionForKey, partitionOfRecord, murmur2 } from './partitioner.ts';
export { publishChunks, recordBytes, RECORD_OVERHEAD_BYTES } from './publish-chunks.ts';

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
export {
  identifierProtectorFor,
  spanToEvent,
  UNKNOWN_APP,
  type SpanToEventOptions,
  type SpanToEventResult,
} from './otel/span-to-event.ts';
export {
  eventRecords,
  mapSpans,
  routeOf,
  type MappedSpans,
  type MapSpansOptions,
  type RoutedEvents,
} from './otel/span-records.ts';
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
export { passesVerhoeff } from './content/checksums.ts';

// content detection: prompt injection and jailbreak (the shim and the gateway run it where text enters aispm)
export {
  createInjectionDetector,
  defaultInjectionDetector,
  detectInjection,
  DETECT_DEFAULTS,
  modelText,
  loadRulePack,
  compileRulePack,
  RulePackError,
  DEFAULT_RULE_PACK,
  BUILTIN_SIGNALS,
  loadModel,
  modelFromJson,
  quantiseWeights,
  DEFAULT_MODEL,
  featureVector,
  splitShare,
  DEFAULT_FEATURE_SPACE,
  CONTENT_CHANNELS,
  INDIRECT_CHANNELS,
  DETECTION_KINDS,
  type InjectionDetector,
  type RulePack,
  type CompiledRule,
  type InjectionModel,
  type FeatureSpace,
  type ContentChannel,
  type DetectionKind,
  type DetectOptions,
  type Frameworks,
  type InjectionVerdict,
  type DetectionSignal,
  type VerdictLabel,
} from './detect/index.ts';
// the verdicts content detectors leave on an event, and the scanner the mapping runs
export {
  CONTENT_DETECTORS,
  MAX_EVENT_DETECTIONS,
  type ContentDetection,
  type ContentDetector,
} from './detect/verdict.ts';
export {
  createContentScanner,
  injectionTextDetector,
  channelsOf,
  transcriptSegments,
  strongestFirst,
  type ContentScanner,
  type TextDetector,
} from './detect/scanner.ts';
export {
  contentScannerFor,
  warmContentScanner,
  CONTENT_DETECT_DEFAULTS,
  type ContentDetectOptions,
} from './detect/scanners.ts';
// content detection: PII and secrets
export {
  createSensitiveDetector,
  defaultSensitiveDetector,
  detectSensitive,
  isReference,
  SENSITIVE_DEFAULTS,
  compileSensitivePack,
  loadSensitivePack,
  DEFAULT_SENSITIVE_PACK,
  type SensitiveDetector,
  type SensitiveDetectorOptions,
  type SensitiveFamily,
  type SensitivePack,
  type SensitivePackSource,
  type SensitiveRule,
} from './detect/sensitive/index.ts';
export { DETECTIONS_ATTRIBUTE, encodeDetections, decodeDetections, mergeDetections } from './detect/carried.ts';
// guard mode (the shim's in-process allow / redact / block) and other libraries' guardrail verdicts
export {
  createGuard,
  compileGuardPolicy,
  loadGuardPolicy,
  isGuardPolicy,
  GuardPolicyError,
  GUARD_ACTIONS,
  DEFAULT_GUARD_RULES,
  guardrailDetections,
  isGuardrailSpan,
  AISPM_GUARD_DETECTIONS,
  GEN_AI_GUARDRAIL,
  type CreateGuardOptions,
  type Guard,
  type GuardResult,
  type GuardAction,
  type GuardPolicy,
  type GuardPolicyInput,
  type GuardRuleInput,
  type GuardrailSpan,
} from './detect/guard/index.ts';
