import { findingId, sampleEvent, type AiEvent, type Finding } from '@aispm/core';
import { parsePolicy } from '../detectors/policy.ts';

// Test fixtures of the inventory and posture tests (not exported from the service).

/** An hour ago, in microseconds: inside every table's TTL. */
export const T0 = (Date.now() - 3_600_000) * 1000;

let n = 0;
export function event(over: Partial<AiEvent> = {}): AiEvent {
  n++;
  return sampleEvent({
    event_id: `e${n}`,
    span_id: `s${n}`,
    time: T0 + n * 1_000_000,
    kind: 'llm_call',
    app: 'support',
    agent: 'helper',
    identity: null,
    provider: 'openai',
    request_model: 'gpt-4o',
    response_model: 'gpt-4o-2024-08-06',
    tool_name: null,
    tool_risk: null,
    destination: 'api.openai.com',
    attributes: {},
    ...over,
  });
}

export function openFinding(over: Partial<Finding> & Pick<Finding, 'asset' | 'asset_type' | 'type' | 'rule'>): Finding {
  const tenant = over.tenant ?? 'acme';
  return {
    id: findingId(tenant, over.type, over.asset, over.rule),
    tenant,
    severity: 'high',
    score: 0.8,
    title: `${over.type} on ${over.asset}`,
    evidence: ['why'],
    event_ids: ['e1'],
    first_seen: T0,
    last_seen: T0 + 1_000_000,
    occurrences: 1,
    status: 'open',
    owasp_llm: ['LLM01:2025'],
    owasp_agentic: [],
    mitre_atlas: ['AML.T0051.000'],
    model: 'test',
    ...over,
  };
}

export const POLICY = parsePolicy({
  approved: { providers: ['openai'], models: ['gpt-4o'], endpoints: ['api.openai.com'], apps: ['support'] },
  owners: { 'app:support': 'team-support', 'tool:*': 'platform' },
  agents: { helper: { owner: 'team-helper' } },
});
