import type { EventKind } from '../event/types.ts';
import { identifier } from './attribute-read.ts';
import type { SpanAttributes } from './span-input.ts';

export interface Classification {
  kind: EventKind;
  /** In the GenAI vocabulary (chat, execute_tool, invoke_agent, ...) whatever the convention, so mixes compare. */
  operation: string;
}

// Maps, not object literals: the looked-up values come from the wire ("constructor" must not hit Object.prototype).
const GEN_AI_OPERATIONS = new Map<string, EventKind>([
  ['chat', 'llm_call'],
  ['text_completion', 'llm_call'],
  ['generate_content', 'llm_call'],
  ['embeddings', 'embedding'],
  ['execute_tool', 'tool_call'],
  ['invoke_agent', 'agent_action'],
  ['create_agent', 'agent_action'],
  ['retrieval', 'retrieval'],
]);

const OPENINFERENCE_KINDS = new Map<string, Classification>([
  ['LLM', { kind: 'llm_call', operation: 'chat' }],
  ['EMBEDDING', { kind: 'embedding', operation: 'embeddings' }],
  ['TOOL', { kind: 'tool_call', operation: 'execute_tool' }],
  ['AGENT', { kind: 'agent_action', operation: 'invoke_agent' }],
  ['RETRIEVER', { kind: 'retrieval', operation: 'retrieval' }],
  ['RERANKER', { kind: 'retrieval', operation: 'rerank' }],
  ['GUARDRAIL', { kind: 'guardrail', operation: 'guardrail' }],
]);

const OPENLLMETRY_REQUEST_TYPES = new Map<string, Classification>([
  ['chat', { kind: 'llm_call', operation: 'chat' }],
  ['completion', { kind: 'llm_call', operation: 'text_completion' }],
  ['embedding', { kind: 'embedding', operation: 'embeddings' }],
  ['rerank', { kind: 'retrieval', operation: 'rerank' }],
]);

const TRACELOOP_SPAN_KINDS = new Map<string, Classification>([
  ['tool', { kind: 'tool_call', operation: 'execute_tool' }],
  ['agent', { kind: 'agent_action', operation: 'invoke_agent' }],
]);

/**
 * What kind of AI action a span records, or why it is not one. In order:
 * gen_ai.operation.name, openinference.span.kind, llm.request.type
 * (OpenLLMetry), traceloop.span.kind. Spans that only group others
 * (OpenInference CHAIN, EVALUATOR, PROMPT; OpenLLMetry workflow, task) are
 * agent actions when they name an agent and are otherwise ignored, so a chain
 * around an LLM call is not counted twice. A span with no known kind is an LLM
 * call if it names a model, a tool call if it names a tool, an agent action if
 * it names an agent.
 */
export function classify(attributes: SpanAttributes): Classification | { ignored: string } {
  const operation = identifier(attributes, 'gen_ai.operation.name');
  const openInference = identifier(attributes, 'openinference.span.kind')?.toUpperCase() ?? null;
  const requestType = identifier(attributes, 'llm.request.type')?.toLowerCase() ?? null;
  const traceloop = identifier(attributes, 'traceloop.span.kind')?.toLowerCase() ?? null;

  const genAiKind = operation === null ? undefined : GEN_AI_OPERATIONS.get(operation);
  const known =
    (genAiKind && operation ? { kind: genAiKind, operation } : undefined) ??
    (openInference === null ? undefined : OPENINFERENCE_KINDS.get(openInference)) ??
    (requestType === null ? undefined : OPENLLMETRY_REQUEST_TYPES.get(requestType)) ??
    (traceloop === null ? undefined : TRACELOOP_SPAN_KINDS.get(traceloop));
  if (known) return { ...known };

  const grouping = openInference ?? traceloop;
  const named = operation ?? grouping?.toLowerCase() ?? null;
  if (identifier(attributes, 'gen_ai.agent.name', 'gen_ai.agent.id', 'agent.name') !== null) {
    return { kind: 'agent_action', operation: named ?? 'invoke_agent' };
  }
  if (grouping !== null) {
    return { ignored: `${openInference ? 'OpenInference' : 'OpenLLMetry'} ${grouping} span without an agent` };
  }
  if (identifier(attributes, 'gen_ai.request.model', 'gen_ai.response.model', 'llm.model_name') !== null) {
    return { kind: 'llm_call', operation: named ?? 'chat' };
  }
  if (identifier(attributes, 'gen_ai.tool.name') !== null) {
    return { kind: 'tool_call', operation: named ?? 'execute_tool' };
  }
  return {
    ignored: operation
      ? `gen_ai.operation.name "${operation}" without a model, tool or agent`
      : 'no GenAI, OpenInference or OpenLLMetry attributes',
  };
}
