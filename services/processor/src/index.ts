// @aispm/processor: stream analytics over the events topic.

export { Processor, type ProcessorOptions, type ProcessorStats } from './processor.ts';
export { processorMetrics, type PipelineStages } from './metrics.ts';
export { TraceStage, type TraceStageOptions, type TraceStageStats } from './traces/trace-stage.ts';
export { TraceAssembler, type AssemblerOptions, type Resolved } from './traces/assembler.ts';
export { SOURCE_PARTITION, SOURCE_SEQ, TICK_RECORD } from './traces/source.ts';
export {
  GenAiSink,
  GENAI_LOGS_TABLE,
  GENAI_METRICS_TABLE,
  type GenAiSinkOptions,
  type GenAiSinkStats,
} from './genai-sink.ts';
export { SCORE_MODEL, Scorer, type ScorerOptions, type ScorerDriftReport } from './scorer.ts';
export { createScoreCodec, type AnomalyScoreRecord } from './score/score-codec.ts';
export { DEFAULT_BASELINE_OPTIONS, type BaselineOptions } from './baseline/agent.ts';
export {
  FLEET_ENTITIES,
  agentView,
  fleetViews,
  type EntityKind,
  type EntityView,
  type FleetEntity,
} from './baseline/view.ts';
export type { StateBackend } from './state/backend.ts';
export { createCheckpointCodec, type Checkpoint, type CheckpointValue } from './state/checkpoint.ts';
export { KafkaChangelog, type KafkaChangelogOptions } from './state/changelog.ts';
export { StoreStateTable } from './state/table.ts';
export {
  DEFAULT_DRIFT_THRESHOLDS,
  type DriftFeature,
  type DriftReport,
  type DriftSource,
  type DriftThresholds,
} from './findings/drift.ts';
