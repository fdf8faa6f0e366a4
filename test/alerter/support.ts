import { findingId, type Finding } from '@aispm/core';
import type { DeliveryResult, Destination, Notification } from '@aispm/alerter';

/** A finding record as the processor publishes it. */
export function sampleFinding(n: number, overrides: Partial<Finding> = {}): Finding {
  const tenant = overrides.tenant ?? 'acme';
  const asset = overrides.asset ?? `agent-${n}`;
  const now = Date.now() * 1000;
  return {
    id: findingId(tenant, 'excessive_agency', asset, 'agency.tool-burst'),
    tenant,
    asset,
    asset_type: 'agent',
    type: 'excessive_agency',
    rule: 'agency.tool-burst',
    severity: 'critical',
    score: 0.97,
    title: `agent ${asset} called 40 tools in a minute`,
    evidence: ['40 tool calls in 60 s'],
    event_ids: [`e-${n}`],
    first_seen: now,
    last_seen: now,
    occurrences: 1,
    status: 'open',
    owasp_llm: ['LLM06'],
    owasp_agentic: [],
    mitre_atlas: ['AML.T0053'],
    model: 'gpt-4o',
    ...overrides,
  };
}

/**
 * A destination of our own interface that records what it was asked to send and answers
 * from a script (then `ok`): the service's delivery loop is what is under test.
 */
export class ScriptedDestination implements Destination {
  readonly kind = 'scripted';
  readonly sent: Notification[] = [];
  attempts = 0;
  #script: DeliveryResult[];
  gate: Promise<void> | null = null;

  readonly name: string;

  constructor(name: string, script: DeliveryResult[] = []) {
    this.name = name;
    this.#script = [...script];
  }

  script(results: DeliveryResult[]): void {
    this.#script.push(...results);
  }

  async send(notification: Notification): Promise<DeliveryResult> {
    this.attempts += 1;
    if (this.gate) await this.gate;
    const result = this.#script.shift() ?? { ok: true, status: 202 };
    if (result.ok) this.sent.push(notification);
    return result;
  }

  async close(): Promise<void> {}

  /** Finding ids delivered, with their status, in order. */
  delivered(): string[] {
    return this.sent.flatMap((n) => n.findings.map((f) => `${f.asset}:${f.status}`));
  }
}
