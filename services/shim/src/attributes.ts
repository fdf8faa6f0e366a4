/**
 * Attribute names the shim writes: the OpenTelemetry GenAI semantic conventions
 * (checked against @opentelemetry/semantic-conventions 1.45, incubating), plus
 * aispm's own for what the conventions do not cover. Core's spanToEvent reads
 * exactly these spellings.
 */
export const GEN_AI = {
  operation: 'gen_ai.operation.name',
  provider: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  responseModel: 'gen_ai.response.model',
  responseId: 'gen_ai.response.id',
  finishReasons: 'gen_ai.response.finish_reasons',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  cacheReadTokens: 'gen_ai.usage.cache_read.input_tokens',
  cacheCreationTokens: 'gen_ai.usage.cache_creation.input_tokens',
  reasoningTokens: 'gen_ai.usage.reasoning.output_tokens',
  toolName: 'gen_ai.tool.name',
  toolCallId: 'gen_ai.tool.call.id',
  toolType: 'gen_ai.tool.type',
  toolArguments: 'gen_ai.tool.call.arguments',
  toolResult: 'gen_ai.tool.call.result',
  agentId: 'gen_ai.agent.id',
  agentName: 'gen_ai.agent.name',
  conversationId: 'gen_ai.conversation.id',
  inputMessages: 'gen_ai.input.messages',
  outputMessages: 'gen_ai.output.messages',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  errorType: 'error.type',
} as const;

export const AISPM = {
  /** The principal the agent acts as (a service account, a user it impersonates). */
  identity: 'aispm.identity',
  /** The permissions granted to that principal, as a string array. */
  scopes: 'aispm.scopes',
  /** The declared risk class of a tool: read, write, execute, egress, privileged. */
  toolRisk: 'aispm.tool.risk',
  /** The capture policy the content attributes were written under (so nothing downstream applies it twice). */
  capturePolicy: 'aispm.capture.policy',
  /** Guard mode: the guard's verdicts on the span's texts, a JSON array of ContentDetection (redacted excerpts). */
  guardDetections: 'aispm.guard.detections',
} as const;

export const OPERATIONS = {
  chat: 'chat',
  executeTool: 'execute_tool',
  invokeAgent: 'invoke_agent',
} as const;
