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
export type { AiTelemetryOptions, AiTelemetrySettings } from './ai-sdk.ts';
export type { KafkaExporterStats } from './kafka-exporter.ts';
export { GEN_AI, AISPM, OPERATIONS } from './attributes.ts';
