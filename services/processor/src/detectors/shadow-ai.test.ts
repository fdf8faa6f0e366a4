import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EMPTY_POLICY, loadPolicy } from './policy.ts';
import { RULES_DIR } from './rule-pack.ts';
import { Session, event, routine, rulesOf } from './testing.ts';

const policy = loadPolicy(join(RULES_DIR, 'policy/policy.example.json'));
const AFTER = 120 * 30;

describe('shadow AI', () => {
  it('flags a provider, model and endpoint the policy does not approve, on the agent that uses them', () => {
    const s = new Session({ policy });
    expect(s.feedAll(routine())).toEqual([]);
    const found = s.feed(
      event(AFTER, {
        provider: 'deepseek',
        request_model: 'deepseek-chat',
        response_model: 'deepseek-chat',
        destination: 'api.deepseek.com:443',
      }),
    );
    // Also a new model answering (silent_model_change.novel_model): this detector's findings are the shadow_ai ones.
    expect(rulesOf(found).sort()).toEqual([
      'shadow_ai.endpoint',
      'shadow_ai.model',
      'shadow_ai.provider',
      'silent_model_change.novel_model',
    ]);
    for (const f of found) expect(f.asset).toBe('acme/support-copilot/billing-bot');
    expect(found.filter((f) => f.type === 'shadow_ai')).toHaveLength(3);
    const endpoint = found.find((f) => f.rule === 'shadow_ai.endpoint')!;
    expect(endpoint.title).toBe('Unapproved endpoint api.deepseek.com');
    expect(endpoint.owasp_agentic).toEqual(['ASI04']);
    // The same model again is the same finding.
    const again = s.feed(
      event(AFTER + 30, {
        provider: 'deepseek',
        request_model: 'deepseek-chat',
        response_model: 'deepseek-chat',
        destination: 'api.deepseek.com',
      }),
    );
    const shadow = (fs: typeof found): string[] =>
      fs
        .filter((f) => f.type === 'shadow_ai')
        .map((f) => f.id)
        .sort();
    expect(shadow(again)).toEqual(shadow(found));
  });

  it('judges the model asked for and the one that answered, snapshots of approved aliases included', () => {
    const s = new Session({ policy });
    // gpt-4o answered by its dated snapshot: approved through the alias.
    expect(s.feed(event(0))).toEqual([]);
    const found = s.feed(event(30, { request_model: 'gpt-4o', response_model: 'o3-2025-04-16' }));
    expect(rulesOf(found)).toContain('shadow_ai.model');
    expect(found.find((f) => f.rule === 'shadow_ai.model')!.evidence[0]).toMatch(/responding model o3-2025-04-16/);
  });

  it('flags an unapproved app on the app itself', () => {
    const s = new Session({ policy });
    const found = s.feed(event(0, { app: 'hr-helper', agent: null }));
    expect(rulesOf(found)).toEqual(['shadow_ai.app']);
    expect(found[0]!.asset).toBe('acme/hr-helper/-');
    expect(found[0]!.asset_type).toBe('app');
  });

  it('judges model endpoints only on model calls, not tool destinations', () => {
    const s = new Session({ policy });
    s.feedAll(routine(8));
    expect(s.all).toEqual([]);
  });

  it('judges nothing under the empty policy', () => {
    const s = new Session({ policy: EMPTY_POLICY });
    s.feed(
      event(0, {
        provider: 'deepseek',
        request_model: 'deepseek-chat',
        response_model: null,
        destination: 'api.deepseek.com',
        app: 'x',
      }),
    );
    expect(s.all).toEqual([]);
  });
});
