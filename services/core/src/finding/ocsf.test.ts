import { describe, expect, it } from 'vitest';
import type { Finding } from './finding.ts';
import { atlasAttacks, toOcsfDetectionFinding, type OcsfDetectionFinding } from './ocsf.ts';

// Enumerations of OCSF 1.8.0 (github.com/ocsf/ocsf-schema, tag 1.8.0): events/base_event.json,
// events/findings/finding.json, dictionary.json, objects/*.json.
const ACTIVITY_IDS = [1, 2, 3, 99, 0];
const SEVERITY_IDS = [0, 1, 2, 3, 4, 5, 6, 99];
const FINDING_STATUS_IDS = [0, 1, 2, 3, 4, 5, 6, 99];
const CONFIDENCE_IDS = [0, 1, 2, 3, 99];
const ANALYTIC_TYPE_IDS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 99];
const RESOURCE_ROLE_IDS = [1, 2, 3, 4];
/** Observable type ids: dictionary types (hostname 1, ip 2, ..., resource_uid 10) and objects (user 21, ...). */
const OBSERVABLE_TYPE_IDS = [
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 19, 20, 21, 22, 23, 24, 25, 26, 27, 99,
];

const T = Date.UTC(2026, 10, 22, 10, 0, 0) * 1000;

function finding(over: Partial<Finding> = {}): Finding {
  return {
    id: '0123456789abcdef0123456789abcdef',
    tenant: 'acme',
    asset: 'acme/support/helper',
    asset_type: 'agent',
    type: 'content',
    rule: 'prompt_injection.indirect',
    severity: 'high',
    score: 0.75,
    title: 'Indirect prompt injection through tool output',
    evidence: ['tool_output of search_docs: "ignore previous instructions" (score 0.97)'],
    event_ids: ['e1', 'e2'],
    first_seen: T + 123_456,
    last_seen: T + 60_000_000 + 999,
    occurrences: 3,
    status: 'open',
    owasp_llm: ['LLM01:2025'],
    owasp_agentic: ['ASI01'],
    mitre_atlas: ['AML.T0051.001', 'AML.T0053'],
    model: 'behaviour.v1',
    ...over,
  };
}

/** Checks what OCSF 1.8.0 requires of a Detection Finding, and that every enum value is one it defines. */
function expectValid(e: OcsfDetectionFinding): void {
  // base_event: required attributes.
  for (const key of [
    'activity_id',
    'category_uid',
    'class_uid',
    'metadata',
    'severity_id',
    'time',
    'type_uid',
  ] as const)
    expect(e[key], key).toBeDefined();
  // finding: finding_info required; metadata: product and version required.
  expect(e.finding_info.uid).toMatch(/./);
  expect(e.metadata.version).toBe('1.8.0');
  expect(e.metadata.product.name).toMatch(/./);
  expect(e.class_uid).toBe(2004);
  expect(e.category_uid).toBe(2);
  expect(ACTIVITY_IDS).toContain(e.activity_id);
  expect(e.type_uid).toBe(e.class_uid * 100 + e.activity_id);
  expect(SEVERITY_IDS).toContain(e.severity_id);
  expect(FINDING_STATUS_IDS).toContain(e.status_id);
  if (e.confidence_id !== undefined) expect(CONFIDENCE_IDS).toContain(e.confidence_id);
  if (e.confidence_score !== undefined) expect(Number.isInteger(e.confidence_score)).toBe(true);
  // timestamp_t: integer milliseconds.
  for (const t of [e.time, e.start_time, e.end_time, e.finding_info.first_seen_time, e.finding_info.last_seen_time])
    expect(Number.isSafeInteger(t) && t > 1e12 && t < 1e14).toBe(true);
  // analytic: type_id required, name or uid.
  expect(ANALYTIC_TYPE_IDS).toContain(e.finding_info.analytic.type_id);
  expect(e.finding_info.analytic.uid || e.finding_info.analytic.name).toBeTruthy();
  for (const r of e.resources) {
    expect(r.uid || r.name).toBeTruthy();
    expect(RESOURCE_ROLE_IDS).toContain(r.role_id);
  }
  for (const o of e.observables) expect(OBSERVABLE_TYPE_IDS).toContain(o.type_id);
  // attack: at least one of tactic, technique, sub_technique; each an entity with name or uid.
  for (const a of e.finding_info.attacks ?? []) {
    const parts = [a.tactic, a.technique, a.sub_technique].filter((p) => p !== undefined);
    expect(parts.length).toBeGreaterThan(0);
    for (const p of parts) expect(p.uid || p.name).toBeTruthy();
  }
  // JSON-serialisable, no undefined left behind.
  expect(JSON.parse(JSON.stringify(e))).toEqual(e);
}

describe('toOcsfDetectionFinding', () => {
  it('maps an open finding seen again to an Update with its fields', () => {
    const e = toOcsfDetectionFinding(finding(), { product: { version: '1.2.3' } });
    expectValid(e);
    expect(e).toMatchObject({
      class_uid: 2004,
      class_name: 'Detection Finding',
      category_uid: 2,
      category_name: 'Findings',
      activity_id: 2,
      activity_name: 'Update',
      type_uid: 200402,
      type_name: 'Detection Finding: Update',
      time: Math.floor((T + 60_000_000 + 999) / 1000),
      severity_id: 4,
      severity: 'High',
      status_id: 1,
      status: 'New',
      message: 'Indirect prompt injection through tool output',
      count: 3,
      start_time: Math.floor((T + 123_456) / 1000),
      is_alert: true,
      confidence_id: 2,
      confidence: 'Medium',
      confidence_score: 75,
      metadata: {
        version: '1.8.0',
        product: { name: 'aispm', vendor_name: 'aispm', version: '1.2.3' },
        tenant_uid: 'acme',
        correlation_uid: '0123456789abcdef0123456789abcdef',
      },
      finding_info: {
        uid: '0123456789abcdef0123456789abcdef',
        title: 'Indirect prompt injection through tool output',
        types: ['content', 'prompt_injection.indirect'],
        analytic: { uid: 'prompt_injection.indirect', type_id: 1, type: 'Rule', version: 'behaviour.v1' },
      },
      resources: [{ uid: 'acme/support/helper', name: 'helper', type: 'agent', role_id: 3, role: 'Affected' }],
      observables: [{ name: 'resources[0].uid', type_id: 10, type: 'Resource UID', value: 'acme/support/helper' }],
      unmapped: { owasp_llm: ['LLM01:2025'], owasp_agentic: ['ASI01'], event_ids: ['e1', 'e2'] },
    });
    expect(e.finding_info.desc).toContain('search_docs');
  });

  it('maps MITRE ATLAS ids to attacks: sub-technique with its parent, one per tactic', () => {
    const e = toOcsfDetectionFinding(finding());
    expect(e.finding_info.attacks).toEqual([
      {
        tactic: { uid: 'AML.TA0005', name: 'Execution', src_url: 'https://atlas.mitre.org/tactics/AML.TA0005' },
        technique: {
          uid: 'AML.T0051',
          name: 'LLM Prompt Injection',
          src_url: 'https://atlas.mitre.org/techniques/AML.T0051',
        },
        sub_technique: {
          uid: 'AML.T0051.001',
          name: 'Indirect',
          src_url: 'https://atlas.mitre.org/techniques/AML.T0051.001',
        },
        version: '5.6.0',
      },
      expect.objectContaining({
        tactic: expect.objectContaining({ uid: 'AML.TA0005' }) as unknown,
        technique: expect.objectContaining({ uid: 'AML.T0053' }) as unknown,
      }),
      expect.objectContaining({
        tactic: expect.objectContaining({ uid: 'AML.TA0012', name: 'Privilege Escalation' }) as unknown,
      }),
    ]);
    // Unknown ATLAS ids keep their uid; ids that are not ATLAS are left out.
    expect(atlasAttacks(['AML.T9999', 'AML.TA0010', 'T1059', 'AML.T9999'])).toEqual([
      { technique: { uid: 'AML.T9999', src_url: 'https://atlas.mitre.org/techniques/AML.T9999' }, version: '5.6.0' },
      {
        tactic: { uid: 'AML.TA0010', name: 'Exfiltration', src_url: 'https://atlas.mitre.org/tactics/AML.TA0010' },
        version: '5.6.0',
      },
    ]);
    expect(toOcsfDetectionFinding(finding({ mitre_atlas: [] })).finding_info.attacks).toBeUndefined();
  });

  it('chooses the activity and status by the finding status', () => {
    const first = toOcsfDetectionFinding(finding({ occurrences: 1, last_seen: T + 123_456 }));
    expect(first).toMatchObject({ activity_id: 1, activity_name: 'Create', type_uid: 200401, status_id: 1 });
    const resolved = toOcsfDetectionFinding(finding({ status: 'resolved' }), { time: Date.UTC(2026, 11, 1) });
    expect(resolved).toMatchObject({
      activity_id: 3,
      type_uid: 200403,
      status_id: 4,
      status: 'Resolved',
      is_alert: false,
      time: Date.UTC(2026, 11, 1),
    });
    const suppressed = toOcsfDetectionFinding(finding({ status: 'suppressed' }));
    expect(suppressed).toMatchObject({ activity_id: 3, status_id: 3, status: 'Suppressed' });
    expect(toOcsfDetectionFinding(finding({ status: 'open' }), { activity: 'create' }).activity_id).toBe(1);
    for (const e of [first, resolved, suppressed]) expectValid(e);
  });

  it('maps every severity, and confidence only from scores in [0, 1]', () => {
    const ids = (['info', 'low', 'medium', 'high', 'critical'] as const).map(
      (severity) => toOcsfDetectionFinding(finding({ severity })).severity_id,
    );
    expect(ids).toEqual([1, 2, 3, 4, 5]);
    const drift = toOcsfDetectionFinding(
      finding({ type: 'behaviour_drift', rule: 'psi', score: 1.7, asset: 'acme/user:alice', asset_type: 'user' }),
    );
    expectValid(drift);
    expect(drift.confidence_id).toBeUndefined();
    expect(drift.finding_info.analytic).toMatchObject({ type_id: 3, type: 'Statistical' });
    expect(drift.resources[0]).toMatchObject({ name: 'alice', type: 'user' });
    expect(drift.observables).toContainEqual({
      name: 'resources[0].name',
      type_id: 4,
      type: 'User Name',
      value: 'alice',
    });
    expect(toOcsfDetectionFinding(finding({ score: 0.95 })).confidence_id).toBe(3);
    expect(toOcsfDetectionFinding(finding({ score: 0.1 })).confidence_id).toBe(1);
    expect(toOcsfDetectionFinding(finding({ type: 'behaviour_anomaly' })).finding_info.analytic.type_id).toBe(2);
    expect(toOcsfDetectionFinding(finding({ asset: 'acme/support/-', asset_type: 'app' })).resources[0]!.name).toBe(
      'support',
    );
  });

  it('gives each record its own metadata.uid and keeps the finding id for correlation', () => {
    const a = toOcsfDetectionFinding(finding());
    const b = toOcsfDetectionFinding(finding({ status: 'resolved' }));
    expect(a.metadata.uid).not.toBe(b.metadata.uid);
    expect(a.finding_info.uid).toBe(b.finding_info.uid);
  });
});
