import { findingId, type Finding } from '@aispm/core';
import type { Notification } from '../notification.ts';

/** 2026-11-30T12:00:00Z in microseconds, the Finding's unit. */
export const SAMPLE_TIME_US = Date.UTC(2026, 10, 30, 12, 0, 0) * 1000;

/** A finding for destination tests: an open, high, indirect prompt injection on one agent of tenant acme. */
export function destinationFinding(over: Partial<Finding> = {}): Finding {
  const tenant = over.tenant ?? 'acme';
  const asset = over.asset ?? 'acme/support/helper';
  const rule = over.rule ?? 'prompt_injection.indirect';
  return {
    id: findingId(tenant, 'content', asset, rule),
    tenant,
    asset,
    asset_type: 'agent',
    type: 'content',
    rule,
    severity: 'high',
    score: 0.75,
    title: 'Indirect prompt injection through tool output',
    evidence: ['tool_output of search_docs: "ignore previous instructions" (score 0.97)'],
    event_ids: ['e1', 'e2'],
    first_seen: SAMPLE_TIME_US + 123_456,
    last_seen: SAMPLE_TIME_US + 60_000_000 + 999,
    occurrences: 3,
    status: 'open',
    owasp_llm: ['LLM01:2025'],
    owasp_agentic: ['ASI01'],
    mitre_atlas: ['AML.T0051.001'],
    model: 'behaviour.v1',
    ...over,
  };
}

/** A notification carrying `findings`, firing unless all are resolved, with a Grafana link per finding. */
export function destinationNotification(findings: readonly Finding[], over: Partial<Notification> = {}): Notification {
  return {
    route: 'security',
    groupKey: 'acme/security/agent',
    tenant: findings[0]?.tenant ?? 'acme',
    status: findings.every((f) => f.status === 'resolved') ? 'resolved' : 'firing',
    labels: { asset_type: 'agent' },
    findings,
    linkOf: (f) => `http://grafana.local/d/aispm-findings?var-tenant=${f.tenant}&var-finding=${f.id}`,
    ...over,
  };
}
