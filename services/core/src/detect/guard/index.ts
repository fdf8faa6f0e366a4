// Guard mode: content detectors plus a policy deciding allow / redact / block, for the request path of an app
// (the shim's guard), and other libraries' guardrail verdicts read from their spans.
export { createGuard, type CreateGuardOptions, type Guard, type GuardResult } from './guard.ts';
export {
  compileGuardPolicy,
  loadGuardPolicy,
  isGuardPolicy,
  matchRule,
  GuardPolicyError,
  GUARD_ACTIONS,
  DEFAULT_GUARD_RULES,
  GUARD_POLICY_DEFAULTS,
  type GuardAction,
  type GuardPolicy,
  type GuardPolicyInput,
  type GuardRuleInput,
  type CompiledGuardRule,
} from './policy.ts';
export { sensitiveTextDetector } from './sensitive.ts';
export {
  guardrailDetections,
  isGuardrailSpan,
  AISPM_GUARD_DETECTIONS,
  GEN_AI_GUARDRAIL,
  type GuardrailSpan,
} from './third-party.ts';
