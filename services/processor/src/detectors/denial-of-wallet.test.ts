import { describe, expect, it } from 'vitest';
import { Session, event, routine, rulesOf } from './testing.ts';

const AFTER = 120 * 30;

describe('denial of wallet', () => {
  it('flags a call spending far more tokens than the agent`s baseline', () => {
    const s = new Session();
    expect(s.feedAll(routine())).toEqual([]);
    const found = s.feed(event(AFTER, { input_tokens: 60_000, output_tokens: 100 }));
    expect(rulesOf(found)).toEqual(['denial_of_wallet.token_spike']);
    const f = found[0]!;
    expect(f.title).toBe('Token spend spike: input tokens');
    expect(f.evidence[0]).toMatch(/^input_tokens 60000 is \d+\.\d× the median \d+ \(robust z \d+\.\d\)$/);
    expect(f.owasp_llm).toEqual(['LLM10:2025']);
    expect(f.mitre_atlas).toContain('AML.T0034');
    expect(f.score).toBeGreaterThan(0.6);
  });

  it('does not flag ordinary calls of the same session', () => {
    const s = new Session();
    s.feedAll(routine());
    expect(s.feed(event(AFTER, { input_tokens: 520, output_tokens: 130 }))).toEqual([]);
  });

  it('says nothing while the baseline is learning', () => {
    const s = new Session();
    s.feedAll(routine(40));
    expect(s.feed(event(40 * 30, { input_tokens: 60_000 }))).toEqual([]);
  });

  it('does not fire on a tiny baseline below the absolute floor', () => {
    const s = new Session();
    s.feedAll(routine().map((e) => (e.kind === 'llm_call' ? { ...e, input_tokens: 8, output_tokens: 4 } : e)));
    // 400 tokens is fifty times the median and a huge z, but 400 tokens cost nothing.
    expect(s.feed(event(AFTER, { input_tokens: 400, output_tokens: 4 }))).toEqual([]);
  });
});
