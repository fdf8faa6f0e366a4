// @aispm/processor: stream analytics over the events topic.

export { Processor, type ProcessorOptions, type ProcessorStats } from './processor.ts';
export { processorMetrics, type PipelineStages } from './metrics.ts';
// Pipeline health (issue 22): per stage and partition, to /metrics and the pipeline_stats table.
export {
  PipelineStats,
  WHOLE_STAGE,
  type CounterSource,
  type PartitionCounts,
  type StageSpec,
  type StatsRow,
} from './stats/collector.ts';
export { MeteredBus } from './stats/metered-bus.ts';
export { KafkaPartitionLag } from './stats/kafka-lag.ts';
export { driftRow } from './findings/rows.ts';
export { PIPELINE_STATS_TABLE, StatsWriter, statsRow, type StatsWriterOptions } from './stats/writer.ts';
export { defaultInstance, pipelineStageSpecs, type StatsStages } from './stats/stages.ts';
export { metricsBody, startMetricsListener, type MetricsListener } from './stats/listener.ts';
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
export { cutKey, isCutKey, type Cut } from './state/cuts.ts';
export { STORE_REJECTED } from './dead-letter.ts';
export {
  DEFAULT_DRIFT_THRESHOLDS,
  type DriftFeature,
  type DriftReport,
  type DriftSource,
  type DriftThresholds,
} from './findings/drift.ts';
export { behaviourRaiser, policySource, type BehaviourOptions } from './findings/behaviour.ts';
export { type FindingRaiser } from './scorer.ts';
// Detections, inventory and posture (issue 21).
export type {
  Detection,
  Detector,
  DetectorInput,
  InventoryPolicy,
  ParamSpec,
  ParamType,
  Rule,
  RuleSet,
} from './detectors/types.ts';
export {
  createDetectionEngine,
  toFinding,
  MAX_EVIDENCE,
  MAX_EVIDENCE_LENGTH,
  type BehaviourFinding,
  type DetectionEngine,
  type DetectionEngineOptions,
  type DetectorMemos,
  type EngineInput,
} from './detectors/engine.ts';
export {
  BASELINE_DETECTOR,
  BASELINE_RULES,
  BehaviourPackError,
  DEFAULT_BEHAVIOUR_PACK,
  RulePackSource,
  compileRules,
  isRulePackSource,
  loadRules,
  parseBehaviourPack,
  parseOverrides,
  ruleCatalogue,
  type BehaviourPack,
  type CompiledRules,
  type LoadRulesOptions,
  type RuleCatalogue,
  type RuleOverride,
  type RulePackSourceOptions,
  type TenantOverrides,
} from './detectors/rule-pack.ts';
export {
  EMPTY_POLICY,
  PolicyError,
  approval,
  grantedScopes,
  hostOf,
  isInternal,
  loadPolicy,
  ownerOf,
  parsePolicy,
  type Approval,
  type ApprovalKind,
} from './detectors/policy.ts';
export { DEFAULT_DETECTORS } from './detectors/registry.ts';
export { contentVerdicts, type ContentVerdict } from './detectors/content-detections.ts';
export { canonicalModel, sameModel } from './detectors/models.ts';
export { globMatch } from './detectors/glob.ts';
export { content, contentRuleOf } from './detectors/content.ts';
export { excessiveAgency } from './detectors/excessive-agency.ts';
export { toxicCombination, type TrifectaMemo } from './detectors/toxic-combination.ts';
export { exfiltration } from './detectors/exfiltration.ts';
export { shadowAi } from './detectors/shadow-ai.ts';
export { silentModelChange, type FingerprintMemo } from './detectors/silent-model-change.ts';
export { denialOfWallet } from './detectors/denial-of-wallet.ts';
export {
  ASSET_KINDS,
  annotateAssets,
  approvalKindOf,
  assetRef,
  findingAsset,
  isAssetKind,
  judgeAsset,
  type AssetKind,
  type AssetRow,
  type InventoryAsset,
} from './inventory/inventory.ts';
export {
  ASSETS_TABLE,
  FINDINGS_LIMIT,
  FINDINGS_TABLE,
  INVENTORY_LIMIT,
  openFindingsPerAsset,
  readAssets,
  readInventory,
  readOpenFindings,
  readTenants,
  type ReadInventoryOptions,
  type StoreQuery,
} from './inventory/read.ts';
export {
  CATEGORIES,
  CATEGORY_OF_TYPE,
  DEFAULT_POSTURE_OPTIONS,
  categoryOf,
  findingWeight,
  postureOf,
  POSTURE_TABLE,
  TENANT_ROW,
  PostureJob,
  computePosture,
  postureRows,
  type AssetPosture,
  type Category,
  type Posture,
  type PostureAction,
  type PostureAssetInput,
  type PostureFinding,
  type PostureOptions,
  type Score as PostureScore,
  type PostureJobOptions,
  type PostureJobStats,
  type PostureRun,
} from './posture/index.ts';
