import { describe, expect, it } from 'vitest';
import { classify } from './classify.ts';
import type { AttributeValue } from './span-input.ts';

const of = (attributes: Record<string, AttributeValue>) => classify(new Map(Object.entries(attributes)));

describe('classify', () => {
  it.each([
    [{ 'gen_ai.operation.name': 'text_completion' }, 'llm_call', 'text_completion'],
    [{ 'gen_ai.operation.name': 'generate_content' }, 'llm_call', 'generate_content'],
    [{ 'gen_ai.operation.name': 'embeddings' }, 'embedding', 'embeddings'],
    [{ 'gen_ai.operation.name': 'create_agent' }, 'agent_action', 'create_agent'],
    [{ 'gen_ai.operation.name': 'retrieval' }, 'retrieval', 'retrieval'],
    [{ 'openinference.span.kind': 'EMBEDDING' }, 'embedding', 'embeddings'],
    [{ 'openinference.span.kind': 'AGENT' }, 'agent_action', 'invoke_agent'],
    [{ 'openinference.span.kind': 'RETRIEVER' }, 'retrieval', 'retrieval'],
    [{ 'openinference.span.kind': 'RERANKER' }, 'retrieval', 'rerank'],
    [{ 'openinference.span.kind': 'GUARDRAIL' }, 'guardrail', 'guardrail'],
    [{ 'llm.request.type': 'completion' }, 'llm_call', 'text_completion'],
    [{ 'llm.request.type': 'embedding' }, 'embedding', 'embeddings'],
    [{ 'traceloop.span.kind': 'agent' }, 'agent_action', 'invoke_agent'],
    // Grouping spans count only when they name an agent.
    [{ 'openinference.span.kind': 'CHAIN', 'agent.name': 'planner' }, 'agent_action', 'chain'],
    [{ 'traceloop.span.kind': 'workflow', 'gen_ai.agent.name': 'a' }, 'agent_action', 'workflow'],
    // No known kind: a model, a tool or an agent is enough.
    [{ 'gen_ai.system': 'openai', 'gen_ai.request.model': 'gpt-4o' }, 'llm_call', 'chat'],
    [{ 'gen_ai.operation.name': 'plan', 'gen_ai.agent.name': 'a' }, 'agent_action', 'plan'],
    [{ 'gen_ai.tool.name': 'search' }, 'tool_call', 'execute_tool'],
  ])('%j is %s (%s)', (attributes, kind, operation) => {
    expect(of(attributes)).toEqual({ kind, operation });
  });

  it('prefers gen_ai.operation.name over the other conventions', () => {
    expect(of({ 'gen_ai.operation.name': 'execute_tool', 'openinference.span.kind': 'LLM' })).toEqual({
      kind: 'tool_call',
      operation: 'execute_tool',
    });
  });

  it.each([
    [{ 'traceloop.span.kind': 'task', 'gen_ai.request.model': 'gpt-4o' }, 'OpenLLMetry task span without an agent'],
    [{ 'openinference.span.kind': 'EVALUATOR' }, 'OpenInference EVALUATOR span without an agent'],
    [{ 'gen_ai.operation.name': 'constructor' }, 'gen_ai.operation.name "constructor" without a model, tool or agent'],
    [{ 'http.request.method': 'GET', 'aispm.agent': 'a' }, 'no GenAI, OpenInference or OpenLLMetry attributes'],
  ])('ignores %j', (attributes, reason) => {
    expect(of(attributes)).toEqual({ ignored: reason });
  });
});
