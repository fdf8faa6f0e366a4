import { describe, expect, it } from 'vitest';
import { parsePolicy } from './policy.ts';
import { Session, routine, rulesOf, toolCall } from './testing.ts';

const AFTER = 120 * 30;

describe('excessive agency', () => {
  it('flags a tool whose risk class exceeds the scopes on the span, and its first use after learning', () => {
    const s = new Session();
    expect(s.feedAll(routine())).toEqual([]);
    const found = s.feed(toolCall(AFTER, 'run_shell', 'execute', 'localhost'));
    expect(rulesOf(found).sort()).toEqual(['excessive_agency.new_high_risk_tool', 'excessive_agency.scope_exceeded']);
    const exceeded = found.find((f) => f.rule === 'excessive_agency.scope_exceeded')!;
    expect(exceeded.type).toBe('excessive_agency');
    expect(exceeded.severity).toBe('high');
    expect(exceeded.owasp_llm).toContain('LLM06:2025');
    expect(exceeded.owasp_agentic).toContain('ASI02');
    expect(exceeded.evidence[0]).toContain('invoices:read, email:send');
    // Both rules are about the same tool on the same agent: one finding.
    expect(new Set(found.map((f) => f.id)).size).toBe(1);
  });

  it('does not flag the same session shape with tools inside its scopes', () => {
    const s = new Session();
    s.feedAll(routine());
    // A new tool, but a read one: inside invoices:read and below the high-risk classes.
    expect(s.feed(toolCall(AFTER, 'list_invoices', 'read', 'billing.acme.example'))).toEqual([]);
    // An egress tool granted by email:send, already known.
    expect(s.feed(toolCall(AFTER + 30, 'send_email', 'egress', 'smtp.acme.example'))).toEqual([]);
  });

  it('takes scopes from the policy when the spans carry none', () => {
    const policy = parsePolicy({ agents: { 'billing-bot': { scopes: ['db:write', 'shell:exec'] } } });
    const s = new Session({ policy });
    s.feedAll(routine(120, 30).map((e) => ({ ...e, scopes: [] })));
    const found = s.feed(toolCall(AFTER, 'run_shell', 'execute', 'localhost', { scopes: [] }));
    // Granted by shell:exec: only the first use is news.
    expect(rulesOf(found)).toEqual(['excessive_agency.new_high_risk_tool']);
  });

  it('does not judge scopes nobody states', () => {
    const s = new Session();
    s.feedAll(routine(120, 30).map((e) => ({ ...e, scopes: [] })));
    const found = s.feed(toolCall(AFTER, 'write_record', 'write', 'db.acme.example', { scopes: [] }));
    expect(rulesOf(found)).toEqual(['excessive_agency.new_high_risk_tool']);
  });

  it('flags a privileged tool never granted, even with no scopes known, instead of scope_exceeded', () => {
    for (const scopes of [['invoices:read'], []]) {
      const s = new Session();
      s.feedAll(routine(120, 30).map((e) => ({ ...e, scopes })));
      const found = s.feed(toolCall(AFTER, 'grant_role', 'privileged', 'iam.acme.example', { scopes }));
      expect(rulesOf(found).sort()).toEqual([
        'excessive_agency.new_high_risk_tool',
        'excessive_agency.privileged_tool',
      ]);
      expect(found.find((f) => f.rule === 'excessive_agency.privileged_tool')!.severity).toBe('critical');
    }
  });

  it('does not flag a privileged tool an admin scope grants, once it is known', () => {
    const s = new Session();
    const events = routine().map((e, i) =>
      i % 8 === 5 ? toolCall(i * 30, 'grant_role', 'privileged', 'iam.acme.example') : e,
    );
    s.feedAll(events.map((e) => ({ ...e, scopes: ['admin'] })));
    expect(s.all).toEqual([]);
    expect(s.feed(toolCall(AFTER, 'grant_role', 'privileged', 'iam.acme.example', { scopes: ['admin'] }))).toEqual([]);
  });

  it('says nothing of first uses while the baseline is learning', () => {
    const s = new Session();
    s.feedAll(routine(30, 30));
    const found = s.feed(toolCall(30 * 30, 'write_record', 'write', 'db.acme.example', { scopes: ['db:write'] }));
    expect(found).toEqual([]);
  });
});
