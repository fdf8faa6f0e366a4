import type { AiEvent } from '@aispm/core';
import { describe, expect, it } from 'vitest';
import { parsePolicy } from './policy.ts';
import { Session, event, routine, rulesOf, toolCall, verdict } from './testing.ts';
import type { TrifectaMemo } from './toxic-combination.ts';

const AFTER = 120 * 30;
const TRIFECTA = 'toxic_combination.lethal_trifecta';

describe('toxic combination (lethal trifecta)', () => {
  it('fires once the agent that reads invoices and sends e-mail also takes in web content', () => {
    const s = new Session();
    // Private data (lookup_invoice) and a way out (send_email), but nothing untrusted: benign.
    const before = routine();
    expect(s.feedAll(before)).toEqual([]);
    const web = toolCall(AFTER, 'web_search', 'read', 'api.search.example');
    const found = s.feed(web);
    expect(rulesOf(found)).toEqual([TRIFECTA]);
    const f = found[0]!;
    expect(f.asset).toBe('acme/support-copilot/billing-bot');
    expect(f.severity).toBe('high');
    expect(f.evidence.join('\n')).toMatch(/untrusted content via tool web_search/);
    expect(f.evidence.join('\n')).toMatch(/private data via tool lookup_invoice/);
    expect(f.evidence.join('\n')).toMatch(/can send data out via tool send_email \(egress\)/);
    expect(f.mitre_atlas).toEqual(['AML.T0051.001', 'AML.T0086']);
    // It names the events of all three legs, not only the one that completed them.
    const lastOf = (tool: string): string => before.filter((e) => e.tool_name === tool).at(-1)!.event_id;
    expect(new Set(f.event_ids)).toEqual(new Set([web.event_id, lastOf('lookup_invoice'), lastOf('send_email')]));
  });

  it('fires at most once per window, and again once a window has passed with the three present', () => {
    const s = new Session();
    s.feedAll(routine());
    // Two more hours of the routine with a web search every 5 minutes.
    const more = routine(240, 30, AFTER).map((e, i) =>
      i % 10 === 0 ? toolCall(AFTER + i * 30, 'web_search', 'read', 'api.search.example') : e,
    );
    s.feedAll(more);
    const fired = s.all.filter((f) => f.rule === TRIFECTA);
    expect(fired.length).toBe(2);
    // Same agent, same key evidence: one finding id, two occurrences an hour apart.
    expect(new Set(fired.map((f) => f.id)).size).toBe(1);
    expect((fired[1]!.first_seen - fired[0]!.first_seen) / 60e6).toBeGreaterThanOrEqual(60);
  });

  it('does not fire when the legs are further apart than the window', () => {
    const s = new Session();
    // Web content at the start, then three hours later private data and e-mail only.
    s.feed(toolCall(0, 'web_search', 'read', 'api.search.example'));
    s.feedAll(routine(120, 30, 3 * 3600));
    expect(s.all).toEqual([]);
    const memo = s.memos.toxic_combination as TrifectaMemo;
    expect(memo.untrusted?.via).toBe('tool web_search');
    expect(memo.fired_ms).toBeNull();
  });

  it('counts an injection found in a tool output as untrusted content and makes the finding critical', () => {
    const s = new Session();
    s.feedAll(routine(60));
    const poisoned = toolCall(60 * 30, 'lookup_invoice', 'read', 'billing.acme.example', {
      detections: [verdict('injection', 'instruction_override', 'tool_output', { score: 0.95 })],
    });
    const found = s.feed(poisoned).filter((f) => f.rule === TRIFECTA);
    expect(found).toHaveLength(1);
    expect(found[0]!.severity).toBe('critical');
    expect(found[0]!.evidence[0]).toMatch(/injection instruction_override in tool_output of lookup_invoice/);
  });

  it('counts sensitive data in a retrieved document as private, and a write to an external host as a way out', () => {
    const policy = parsePolicy({ internal_destinations: ['*.acme.example'] });
    const s = new Session({ policy });
    const trifecta = (e: AiEvent): string[] => rulesOf(s.feed(e)).filter((r) => r === TRIFECTA);
    expect(
      trifecta(
        event(0, { kind: 'retrieval', tool_name: null, detections: [verdict('sensitive', 'email', 'retrieved_doc')] }),
      ),
    ).toEqual([]);
    // An internal write is not a way out; an external one is.
    expect(trifecta(toolCall(60, 'create_record', 'write', 'crm.acme.example'))).toEqual([]);
    const found = s.feed(toolCall(120, 'create_record', 'write', 'crm.partner.example'));
    expect(rulesOf(found)).toContain(TRIFECTA);
    expect(found.find((f) => f.rule === TRIFECTA)!.evidence.join('\n')).toMatch(/external crm\.partner\.example/);
  });

  it('ignores verdicts below the threshold and verdicts on direct channels', () => {
    const s = new Session();
    s.feedAll(routine(40));
    const weak = toolCall(40 * 30, 'lookup_invoice', 'read', 'billing.acme.example', {
      detections: [
        verdict('injection', 'instruction_override', 'tool_output', { score: 0.2 }),
        verdict('injection', 'jailbreak', 'user_prompt'),
      ],
    });
    expect(s.feed(weak).filter((f) => f.rule === TRIFECTA)).toEqual([]);
  });
});
