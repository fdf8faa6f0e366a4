// @aispm/shim: two lines instrument a Node AI app: register() sets up OpenTelemetry, instrument(client) wraps its AI SDK clients.

export {
  register,
  instrument,
  type RegisterOptions,
  type ExporterOptions,
  type Shim,
  type ShimStats,
} from './register.ts';
export type { CaptureSettings, ContentMessage, ContentPart } from './content.ts';
export type { QueueOptions, QueueStats } from './bounded-processor.ts';
export type { AgentHelpers, LLMRequest, LLMResponse, LLMCall } from './helpers.ts';
export type { ToolCall } from './tools.ts';
export type { AgentScope, Principal } from './tracing.ts';
export type { AiTelemetryOptions, AiTelemetrySettings, AiGuardMiddleware } from './ai-sdk.ts';
export type { GuardOptions } from './guard-hook.ts';
export { GuardError, GuardBlockedError, GUARD_ERROR_CODES, type GuardBlock, type GuardVerdict } from './guard-error.ts';
export type { KafkaExporterStats } from './kafka-exporter.ts';
export { GEN_AI, AISPM, OPERATIONS } from './attributes.ts';
export { GEN_AI_GUARDRAIL } from '@aispm/core';
