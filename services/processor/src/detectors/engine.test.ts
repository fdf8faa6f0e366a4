import { findingId } from '@aispm/core';
import { describe, expect, it } from 'vitest';
import { agentView } from '../baseline/view.ts';
import { createDetectionEngine, toFinding } from './engine.ts';
import { compileRules, parseBehaviourPack, DEFAULT_BEHAVIOUR_PACK } from './rule-pack.ts';
import { DEFAULT_DETECTORS } from './registry.ts';
import { DEFAULT_RULES, Session, event, routine, rulesOf, toolCall, verdict } from './testing.ts';
import type { Detection, Detector } from './types.ts';
import { readFileSync } from 'node:fs';
import type { Measurement } from '../baseline/agent.ts';

const LEARNING: Measurement = {
  learning: true,
  ageMs: 0,
  rate: { z: 0, observed: 1, typical: 1 },
  numeric: [],
  categorical: [],
  sequence: null,
  rejected: [],
};

function rulesWith(tenants: Record<string, unknown>) {
  const raw = JSON.parse(readFileSync(DEFAULT_BEHAVIOUR_PACK, 'utf8')) as Record<string, unknown>;
  raw.tenants = tenants;
  return compileRules(parseBehaviourPack(raw, 'test'));
}

describe('detection engine', () => {
  it('skips rules a tenant disabled, and detectors whose rules are all disabled', () => {
    const rules = rulesWith({
      acme: { 'prompt_injection.indirect': { enabled: false } },
      beta: { 'toxic_combination.lethal_trifecta': { enabled: false } },
    });
    const poisoned = (tenant: string) =>
      toolCall(0, 'web_search', 'read', 'api.search.example', {
        tenant,
        detections: [verdict('injection', 'instruction_override', 'tool_output')],
      });
    expect(rulesOf(new Session({ rules }).feed(poisoned('acme')))).toEqual([]);
    expect(rulesOf(new Session({ rules }).feed(poisoned('other')))).toEqual(['prompt_injection.indirect']);
    // A disabled detector keeps no memo.
    const beta = new Session({ rules });
    beta.feedAll(routine(8).map((e) => ({ ...e, tenant: 'beta' })));
    expect(beta.memos).not.toHaveProperty('toxic_combination');
    expect(beta.memos).toHaveProperty('silent_model_change');
  });

  it('keeps every detector`s memo JSON-serialisable, and replaces one of another shape', () => {
    const engine = createDetectionEngine({ rules: DEFAULT_RULES });
    const e = toolCall(0, 'web_search', 'read', 'api.search.example');
    const memos: Record<string, unknown> = { toxic_combination: { legacy: 1 }, silent_model_change: 'x' };
    engine.run({ event: e, view: agentView(e), measurement: LEARNING }, memos);
    expect(memos.toxic_combination).toEqual({
      untrusted: { ms: e.time / 1000, via: 'tool web_search', event: e.event_id },
      private: null,
      egress: null,
      fired_ms: null,
    });
    expect(memos.silent_model_change).toEqual({ fingerprints: {} });
    expect(JSON.parse(JSON.stringify(memos))).toEqual(memos);
    expect(Object.keys(memos).sort()).toEqual(DEFAULT_DETECTORS.map((d) => d.id).sort());
  });

  it('logs and skips a detector that throws; the others still run', () => {
    const errors: string[] = [];
    const broken: Detector<null> = {
      id: 'broken',
      rules: { 'shadow_ai.app': {} },
      initial: () => null,
      detect: () => {
        throw new Error('boom');
      },
    };
    // `broken` claims a rule of the pack only to be enabled; its catalogue is not checked here.
    const engine = createDetectionEngine({
      rules: DEFAULT_RULES,
      detectors: [broken, ...DEFAULT_DETECTORS],
      logger: { debug() {}, info() {}, warn() {}, error: (m, f) => void errors.push(`${m} ${String(f?.detector)}`) },
    });
    const e = event(0, { detections: [verdict('injection', 'jailbreak', 'user_prompt')] });
    const found = engine.run({ event: e, view: agentView(e), measurement: LEARNING }, {});
    expect(found.map((d) => d.rule)).toEqual(['prompt_injection.jailbreak']);
    expect(engine.failures).toBe(1);
    expect(errors).toEqual(['behavioural detector failed on an event; skipped broken']);
  });

  it('makes a finding with a stable fingerprint, the rule`s frameworks and redacted, bounded evidence', () => {
    const e = event(0);
    const view = agentView(e);
    const rule = DEFAULT_RULES.forTenant('acme').get('exfiltration.sensitive_arguments')!;
    const detection: Detection = {
      rule: rule.id,
      key_evidence: 'paste.attacker.example',
      score: 1.7,
      evidence: [
        'sent AKIAIOSFODNN7EXAMPLE to paste.attacker.example',
        'x'.repeat(1000),
        ...Array.from({ length: 20 }, () => 'more'),
      ],
    };
    const f = toFinding(detection, rule, e, view, 'behaviour/1');
    expect(f.id).toBe(findingId('acme', 'exfiltration', view.key, 'paste.attacker.example'));
    expect(f).toMatchObject({
      tenant: 'acme',
      asset: 'acme/support-copilot/billing-bot',
      asset_type: 'agent',
      type: 'exfiltration',
      rule: 'exfiltration.sensitive_arguments',
      severity: 'high',
      score: 1,
      title: rule.title,
      event_ids: [e.event_id],
      first_seen: e.time,
      last_seen: e.time,
      occurrences: 1,
      status: 'open',
      owasp_llm: ['LLM02:2025', 'LLM06:2025'],
      owasp_agentic: ['ASI02'],
      mitre_atlas: ['AML.T0086', 'AML.T0057'],
      model: 'behaviour/1',
    });
    expect(f.evidence[0]).not.toContain('AKIAIOSFODNN7EXAMPLE');
    expect(f.evidence).toHaveLength(8);
    expect(f.evidence[1]).toHaveLength(300);
    // The engine's own toFinding stamps the pack version.
    const engine = createDetectionEngine({ rules: DEFAULT_RULES });
    expect(engine.toFinding(detection, rule, e, view).model).toBe('behaviour/1');
  });
});
