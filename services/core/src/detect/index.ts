// Prompt-injection and jailbreak detection: what the shim, the gateway, `aispm scan` and the training script use.
export {
  createInjectionDetector,
  defaultInjectionDetector,
  detectInjection,
  DETECT_DEFAULTS,
  modelText,
  type InjectionDetector,
} from './detect.ts';
export {
  loadRulePack,
  compileRulePack,
  RulePackError,
  DEFAULT_RULE_PACK,
  BUILTIN_SIGNALS,
  type RulePack,
  type CompiledRule,
} from './rule-pack.ts';
export {
  loadModel,
  modelFromJson,
  quantiseWeights,
  gateLogit,
  DEFAULT_MODEL,
  type InjectionModel,
  type ModelGate,
} from './model.ts';
export { loadLexicon, compileLexicon, conceptsOf, DEFAULT_LEXICON, type Lexicon } from './lexicon.ts';
export { featureVector, splitShare, DEFAULT_FEATURE_SPACE, type FeatureSpace } from './features.ts';
export {
  CONTENT_CHANNELS,
  INDIRECT_CHANNELS,
  DETECTION_KINDS,
  type ContentChannel,
  type DetectionKind,
  type DetectOptions,
  type Frameworks,
  type InjectionVerdict,
  type DetectionSignal,
  type VerdictLabel,
} from './types.ts';
