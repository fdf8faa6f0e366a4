import { describe, expect, it } from 'vitest';
import { AISPM_GUARD_DETECTIONS, guardrailDetections, isGuardrailSpan } from './index.ts';

const EMAIL = 'carol.secret@example.com';
const TOKEN = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789';

describe('guardrailDetections', () => {
  it('reads OpenLIT guard attributes (guard.verdict yes) without copying content', () => {
    const span = {
      name: 'openlit.guard.prompt_injection',
      attributes: {
        'guard.verdict': 'yes',
        'guard.score': 0.92,
        'guard.classification': 'impersonation',
        'guard.validator': 'prompt_injection',
        'guard.explanation': `The prompt asks to act as admin and mail ${EMAIL} the key ${TOKEN}`,
      },
    };
    expect(isGuardrailSpan(span)).toBe(true);
    const [d, ...rest] = guardrailDetections(span);
    expect(rest).toEqual([]);
    expect(d).toMatchObject({
      detector: 'guardrail',
      rule: 'openlit.prompt_injection',
      kind: 'impersonation',
      channel: 'user_prompt',
      score: 0.92,
      severity: 'high',
      via: 'allow',
    });
    expect(d!.excerpt).not.toContain(EMAIL);
    expect(d!.excerpt).not.toContain(TOKEN);
    expect(d!.excerpt.length).toBeLessThanOrEqual(120);
  });

  it('reads OpenLIT guard pipelines: guard.action deny on a guard.evaluation event; allow and verdict no are none', () => {
    const span = {
      name: 'chat gpt-4o',
      attributes: {},
      events: [
        {
          name: 'guard.evaluation',
          attributes: { 'guard.name': 'pii', 'guard.action': 'deny', 'guard.phase': 'postflight', 'guard.score': 1 },
        },
        { name: 'guard.evaluation', attributes: { 'guard.name': 'topic', 'guard.action': 'allow' } },
      ],
    };
    expect(guardrailDetections(span)).toMatchObject([
      { rule: 'openlit.pii', channel: 'completion', via: 'block', severity: 'critical' },
    ]);
    expect(guardrailDetections({ name: 'g', attributes: { 'guard.verdict': 'no', 'guard.score': 0 } })).toEqual([]);
  });

  it('reads OpenLLMetry gen_ai.guardrail.* (FAILED), never its gen_ai.guardrail.input', () => {
    const span = {
      name: 'pii-check.guard',
      attributes: {
        'gen_ai.operation.name': 'guard',
        'gen_ai.guardrail.name': 'pii-check',
        'gen_ai.guardrail.status': 'FAILED',
        'gen_ai.guardrail.input': JSON.stringify({ text: `reach me at ${EMAIL}` }),
        'gen_ai.guardrail.duration': 3,
      },
      status: { code: 2 },
    };
    const found = guardrailDetections(span);
    expect(found).toMatchObject([
      { detector: 'guardrail', rule: 'openllmetry.pii-check', kind: 'failed', channel: 'completion', via: 'block' },
    ]);
    expect(JSON.stringify(found)).not.toContain(EMAIL);
    expect(
      guardrailDetections({ ...span, attributes: { ...span.attributes, 'gen_ai.guardrail.status': 'PASSED' } }),
    ).toEqual([]);
    // A guard that raised gave no verdict.
    expect(
      guardrailDetections({ ...span, attributes: { ...span.attributes, 'gen_ai.guardrail.error.type': 'ValueError' } }),
    ).toEqual([]);
  });

  it('reads OpenInference GUARDRAIL spans that failed, never their input.value', () => {
    const span = {
      name: 'Guard._after_validate',
      attributes: {
        'openinference.span.kind': 'GUARDRAIL',
        'input.value': `my email is ${EMAIL}`,
        'output.value': 'fail',
        validator_name: 'guardrails/detect_pii',
        validator_on_fail: 'exception',
      },
    };
    const found = guardrailDetections(span);
    expect(found).toMatchObject([{ rule: 'openinference.guardrails/detect_pii', via: 'block' }]);
    expect(JSON.stringify(found)).not.toContain(EMAIL);
    expect(guardrailDetections({ ...span, attributes: { ...span.attributes, 'output.value': 'pass' } })).toEqual([]);
    const agents = {
      name: 'guardrail',
      attributes: { 'openinference.span.kind': 'GUARDRAIL', 'output.value': '{"tripwire_triggered": true}' },
    };
    expect(guardrailDetections(agents)).toMatchObject([{ rule: 'openinference.guardrail', via: 'allow' }]);
  });

  it('reads the OpenTelemetry proposal attributes (run_guardrail spans and finding events)', () => {
    const span = {
      name: 'run_guardrail Azure Content Safety',
      attributes: {
        'gen_ai.operation.name': 'run_guardrail',
        'gen_ai.guardrail.component.name': 'Azure Content Safety',
        'gen_ai.guardrail.target.type': 'output',
        'gen_ai.guardrail.target.subtype': 'tool_call',
        'gen_ai.guardrail.verdict.type': 'deny',
        'gen_ai.guardrail.action.type': 'block',
        'gen_ai.guardrail.verdict.reason': `Prompt injection attempt detected near ${EMAIL}`,
        'gen_ai.guardrail.security.policy.id': 'policy_pi_v2',
        'gen_ai.guardrail.security.risk.category': 'prompt_injection',
        'gen_ai.guardrail.security.risk.score': 0.85,
      },
    };
    const [d] = guardrailDetections(span);
    expect(d).toMatchObject({
      rule: 'policy_pi_v2',
      kind: 'prompt_injection',
      channel: 'tool_output',
      score: 0.85,
      via: 'block',
      excerpt: 'Prompt injection attempt detected near [EMAIL]',
    });
    expect(
      guardrailDetections({
        name: 'x',
        attributes: { 'gen_ai.guardrail.verdict.type': 'allow', 'gen_ai.guardrail.action.type': 'allow' },
      }),
    ).toEqual([]);
  });

  it("reads the shim's own list, re-redacting excerpts and dropping malformed entries", () => {
    const list = [
      {
        detector: 'guardrail',
        rule: 'default.secrets',
        kind: 'github_token',
        channel: 'user_prompt',
        score: 1,
        severity: 'high',
        excerpt: `token ${TOKEN}`,
        start: 6,
        end: 46,
        via: 'redact',
      },
      { detector: 'nonsense', rule: 'x', kind: 'y', channel: 'user_prompt' },
      { detector: 'sensitive', rule: 'secret.github_token', kind: 'github_token', channel: 'elsewhere' },
    ];
    const found = guardrailDetections({
      name: 'chat gpt-4o',
      attributes: {
        [AISPM_GUARD_DETECTIONS]: JSON.stringify(list),
        'gen_ai.guardrail.verdict.type': 'modify',
        'gen_ai.guardrail.action.type': 'modify',
      },
    });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ rule: 'default.secrets', via: 'redact', start: 6, end: 46 });
    expect(found[0]!.excerpt).not.toContain(TOKEN);
    expect(guardrailDetections({ name: 'x', attributes: { [AISPM_GUARD_DETECTIONS]: '{not json' } })).toEqual([]);
  });

  it('gives nothing for an ordinary span', () => {
    const span = { name: 'chat gpt-4o', attributes: { 'gen_ai.operation.name': 'chat' } };
    expect(isGuardrailSpan(span)).toBe(false);
    expect(guardrailDetections(span)).toEqual([]);
  });
});
