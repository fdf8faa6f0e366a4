import type { Finding } from '@aispm/core';

/** A finding for tests: an open high prompt injection on one agent of tenant acme; override what a test is about. */
export function sampleFinding(over: Partial<Finding> = {}): Finding {
  return {
    id: 'f1',
    tenant: 'acme',
    asset: 'agent:support',
    asset_type: 'agent',
    type: 'prompt_injection',
    rule: 'inj.ignore_previous',
    severity: 'high',
    score: 0.9,
    title: 'Prompt injection',
    evidence: [],
    event_ids: [],
    first_seen: 0,
    last_seen: 0,
    occurrences: 1,
    status: 'open',
    owasp_llm: ['LLM01'],
    owasp_agentic: [],
    mitre_atlas: ['AML.T0051'],
    model: 'gpt-4o',
    ...over,
  };
}
