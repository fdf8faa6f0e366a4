import { describe, expect, it } from 'vitest';
import { contentRuleOf } from './content.ts';
import { Session, event, rulesOf, toolCall, verdict } from './testing.ts';

describe('content verdicts as findings', () => {
  it('maps detector, kind, channel and action to the pack`s rules', () => {
    const cases: [Parameters<typeof contentRuleOf>[0], string][] = [
      [verdict('injection', 'instruction_override', 'user_prompt'), 'prompt_injection.direct'],
      [verdict('injection', 'instruction_override', 'tool_output'), 'prompt_injection.indirect'],
      [verdict('injection', 'jailbreak', 'retrieved_doc'), 'prompt_injection.indirect'],
      [verdict('injection', 'jailbreak', 'user_prompt'), 'prompt_injection.jailbreak'],
      [verdict('injection', 'system_prompt_extraction', 'user_prompt'), 'prompt_injection.system_prompt_extraction'],
      [verdict('sensitive', 'email', 'user_prompt'), 'sensitive_data.prompt'],
      [verdict('sensitive', 'email', 'completion'), 'sensitive_data.completion'],
      [verdict('sensitive', 'email', 'tool_arguments'), 'sensitive_data.tool'],
      [verdict('sensitive', 'email', 'tool_output'), 'sensitive_data.tool'],
      [verdict('sensitive', 'email', 'retrieved_doc'), 'sensitive_data.retrieval'],
      [verdict('guardrail', 'blocked', 'user_prompt', { via: 'block' }), 'guardrail.block'],
      [verdict('guardrail', 'pii', 'completion', { via: 'redact' }), 'guardrail.redact'],
      [verdict('guardrail', 'toxicity', 'completion', { via: 'allow' }), 'guardrail.flag'],
    ];
    for (const [v, rule] of cases) expect(contentRuleOf(v)).toBe(rule);
  });

  it('turns an indirect injection in a tool result into one finding per rule and channel', () => {
    const s = new Session();
    const found = s.feed(
      toolCall(0, 'read_web_page', 'read', 'blog.example', {
        detections: [
          verdict('injection', 'instruction_override', 'tool_output', {
            score: 0.8,
            rule: 'inj.override.ignore_previous',
          }),
          verdict('injection', 'exfiltration', 'tool_output', { score: 0.95, rule: 'exfil.markdown_image' }),
        ],
      }),
    );
    expect(rulesOf(found)).toEqual(['prompt_injection.indirect']);
    const f = found[0]!;
    expect(f.type).toBe('prompt_injection');
    expect(f.score).toBe(0.95);
    expect(f.owasp_llm).toEqual(['LLM01:2025']);
    expect(f.owasp_agentic).toContain('ASI01');
    expect(f.mitre_atlas).toEqual(['AML.T0051.001']);
    expect(f.evidence).toHaveLength(2);
    expect(f.evidence[0]).toBe(
      'injection verdict exfiltration (rule exfil.markdown_image) in tool_output of tool read_web_page, score 0.95, via text',
    );
    // The same kind of problem through the same channel later: the same finding.
    const again = s.feed(
      toolCall(60, 'read_web_page', 'read', 'blog.example', {
        detections: [verdict('injection', 'role_injection', 'tool_output')],
      }),
    );
    expect(again[0]!.id).toBe(f.id);
  });

  it('names each framework: direct injection, jailbreak, system prompt extraction, sensitive data', () => {
    const s = new Session();
    const found = s.feed(
      event(0, {
        detections: [
          verdict('injection', 'instruction_override', 'user_prompt'),
          verdict('injection', 'jailbreak', 'user_prompt'),
          verdict('injection', 'system_prompt_extraction', 'user_prompt'),
          verdict('sensitive', 'aws_access_key', 'completion', { severity: 'critical' }),
        ],
      }),
    );
    const by = Object.fromEntries(found.map((f) => [f.rule, f]));
    expect(by['prompt_injection.direct']!.mitre_atlas).toEqual(['AML.T0051.000']);
    expect(by['prompt_injection.jailbreak']!.mitre_atlas).toEqual(['AML.T0054']);
    expect(by['prompt_injection.system_prompt_extraction']!.mitre_atlas).toEqual(['AML.T0056']);
    expect(by['prompt_injection.system_prompt_extraction']!.owasp_llm).toContain('LLM07:2025');
    const secret = by['sensitive_data.completion']!;
    expect(secret.mitre_atlas).toEqual(['AML.T0057']);
    // The verdict's severity outranks the rule's.
    expect(secret.severity).toBe('critical');
    // One finding per rule and channel: four different ids.
    expect(new Set(found.map((f) => f.id)).size).toBe(4);
  });

  it('turns guardrail actions into findings', () => {
    const s = new Session();
    const found = s.feed(
      event(0, { detections: [verdict('guardrail', 'blocked', 'user_prompt', { via: 'block', severity: 'low' })] }),
    );
    expect(rulesOf(found)).toEqual(['guardrail.block']);
    expect(found[0]!.severity).toBe('medium');
  });

  it('says nothing of an event without verdicts, or with verdicts under the rule`s score', () => {
    const s = new Session();
    expect(s.feed(event(0))).toEqual([]);
    expect(
      s.feed(event(30, { detections: [verdict('injection', 'instruction_override', 'user_prompt', { score: 0.3 })] })),
    ).toEqual([]);
  });
});
