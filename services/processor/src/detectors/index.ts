// Behavioural detectors (issue 21): the Detector seam, rule packs as data, the inventory policy, the engine.

export type {
  Detection,
  Detector,
  DetectorInput,
  InventoryPolicy,
  ParamSpec,
  ParamType,
  Rule,
  RuleSet,
} from './types.ts';
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
} from './engine.ts';
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
} from './rule-pack.ts';
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
} from './policy.ts';
export { DEFAULT_DETECTORS } from './registry.ts';
export { contentVerdicts, type ContentVerdict } from './content-detections.ts';
export { canonicalModel, sameModel } from './models.ts';
export { globMatch } from './glob.ts';
export { content, contentRuleOf } from './content.ts';
export { excessiveAgency } from './excessive-agency.ts';
export { toxicCombination, type TrifectaMemo } from './toxic-combination.ts';
export { exfiltration } from './exfiltration.ts';
export { shadowAi } from './shadow-ai.ts';
export { silentModelChange, type FingerprintMemo } from './silent-model-change.ts';
export { denialOfWallet } from './denial-of-wallet.ts';
