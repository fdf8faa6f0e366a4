import type { Severity } from '@aispm/core';
import { describe, expect, it } from 'vitest';
import {
  CATEGORIES,
  categoryOf,
  postureOf,
  type PostureAssetInput,
  type PostureFinding,
  type Posture,
} from './posture.ts';

const T = 'acme';
let seq = 0;

function finding(
  over: Partial<PostureFinding> & { severity: Severity; type: string },
  asset = `${T}/support/helper`,
  assetType = 'agent',
): PostureFinding {
  seq++;
  return {
    id: `f${String(seq).padStart(3, '0')}`,
    tenant: T,
    asset,
    asset_type: assetType,
    rule: `${over.type}.rule`,
    score: 0.8,
    title: `${over.type} ${seq}`,
    ...over,
  };
}

const agent: PostureAssetInput = { kind: 'agent', name: 'helper', approval: 'unjudged', owner: 'team-a' };
const assetOf = (p: Posture, kind: string, name: string) => p.assets.find((a) => a.kind === kind && a.name === name)!;

describe('postureOf', () => {
  it('scores a clean inventory 100 everywhere, with no actions', () => {
    const p = postureOf([agent, { kind: 'provider', name: 'openai', approval: 'approved' }], []);
    expect(p.score).toBe(100);
    expect(p.actions).toEqual([]);
    for (const a of p.assets) {
      expect(a.score).toBe(100);
      expect(Object.values(a.categories)).toEqual(CATEGORIES.map(() => 100));
    }
  });

  it('maps finding types (and content rules by their prefix) to categories', () => {
    expect(categoryOf({ type: 'prompt_injection', rule: 'x' })).toBe('injection_exposure');
    expect(categoryOf({ type: 'content', rule: 'prompt_injection.indirect' })).toBe('injection_exposure');
    expect(categoryOf({ type: 'content', rule: 'sensitive_data.tool' })).toBe('data_leakage');
    expect(categoryOf({ type: 'exfiltration', rule: 'exfiltration.sensitive_arguments' })).toBe('data_leakage');
    expect(categoryOf({ type: 'excessive_agency', rule: 'r' })).toBe('agency');
    expect(categoryOf({ type: 'toxic_combination', rule: 'r' })).toBe('agency');
    expect(categoryOf({ type: 'shadow_ai', rule: 'r' })).toBe('shadow_ai');
    expect(categoryOf({ type: 'silent_model_change', rule: 'r' })).toBe('model_integrity');
    expect(categoryOf({ type: 'behaviour_drift', rule: 'psi' })).toBe('model_integrity');
    expect(categoryOf({ type: 'behaviour_anomaly', rule: 'token_spike' })).toBe('anomalies');
    expect(categoryOf({ type: 'denial_of_wallet', rule: 'r' })).toBe('anomalies');
    expect(categoryOf({ type: 'something_new', rule: 'r' })).toBe('anomalies');
  });

  it('puts a finding in its category only, and the total is the product of the category scores', () => {
    const p = postureOf([agent], [finding({ type: 'prompt_injection', severity: 'high', score: 1 })]);
    const a = assetOf(p, 'agent', 'helper');
    // high 0.6 × confidence 1 = risk 0.6; injection share 0.6 → 100 · (1 − 0.36).
    expect(a.categories.injection_exposure).toBeCloseTo(64, 9);
    for (const c of CATEGORIES) if (c !== 'injection_exposure') expect(a.categories[c]).toBe(100);
    expect(a.score).toBeCloseTo(64, 9);
    expect(a.open_findings).toBe(1);

    const two = postureOf(
      [agent],
      [
        finding({ type: 'prompt_injection', severity: 'high', score: 1 }),
        finding({ type: 'exfiltration', severity: 'high', score: 1 }),
      ],
    );
    const b = assetOf(two, 'agent', 'helper');
    expect(b.score).toBeCloseTo((b.categories.injection_exposure * b.categories.data_leakage) / 100, 9);
  });

  it('weighs by severity and confidence', () => {
    const score = (severity: Severity, s: number): number =>
      assetOf(postureOf([agent], [finding({ type: 'excessive_agency', severity, score: s })]), 'agent', 'helper').score;
    expect(score('critical', 0.9)).toBeLessThan(score('high', 0.9));
    expect(score('high', 0.9)).toBeLessThan(score('medium', 0.9));
    expect(score('medium', 0.9)).toBeLessThan(score('low', 0.9));
    expect(score('low', 0.9)).toBeLessThan(score('info', 0.9));
    expect(score('high', 0.9)).toBeLessThan(score('high', 0.4));
    // Confidence is clamped: a PSI of 3 counts as 1, a score of 0 as the minimum.
    expect(score('medium', 3)).toBe(score('medium', 1));
    expect(score('medium', 0)).toBe(score('medium', 0.25));
    expect(score('medium', 0)).toBeLessThan(100);
  });

  it('has diminishing returns: 50 findings on one asset are not 50 times worse than one', () => {
    const one = assetOf(
      postureOf([agent], [finding({ type: 'excessive_agency', severity: 'high', score: 1 })]),
      'agent',
      'helper',
    );
    const fifty = assetOf(
      postureOf(
        [agent],
        Array.from({ length: 50 }, () => finding({ type: 'excessive_agency', severity: 'high', score: 1 })),
      ),
      'agent',
      'helper',
    );
    const lost = (s: number): number => 100 - s;
    expect(lost(fifty.score)).toBeGreaterThan(lost(one.score));
    expect(lost(fifty.score)).toBeLessThan(1.5 * lost(one.score));
    // One category can take at most its share.
    expect(fifty.categories.agency).toBeGreaterThanOrEqual(40 - 1e-9);
    // A pile of low findings does not outweigh one critical.
    const lows = assetOf(
      postureOf(
        [agent],
        Array.from({ length: 200 }, () => finding({ type: 'excessive_agency', severity: 'low', score: 1 })),
      ),
      'agent',
      'helper',
    );
    const critical = assetOf(
      postureOf([agent], [finding({ type: 'excessive_agency', severity: 'critical', score: 1 })]),
      'agent',
      'helper',
    );
    expect(lows.score).toBeGreaterThan(critical.score);
  });

  it('counts an unapproved asset against shadow AI without any finding, and offers to approve it', () => {
    const p = postureOf([{ kind: 'provider', name: 'deepseek', approval: 'unapproved' }, agent], []);
    const provider = assetOf(p, 'provider', 'deepseek');
    expect(provider.categories.shadow_ai).toBeCloseTo(100 * (1 - 0.4 * 0.5), 9);
    expect(provider.score).toBeLessThan(100);
    expect(provider.actions).toEqual([
      expect.objectContaining({ kind: 'approve_asset', target: 'provider:deepseek', category: 'shadow_ai' }),
    ]);
    expect(provider.actions[0]!.points).toBeCloseTo(100 - provider.score, 9);
    expect(p.score).toBeLessThan(100);
    expect(assetOf(p, 'agent', 'helper').score).toBe(100);
  });

  it('attaches findings to their assets by key, listing assets only findings name', () => {
    const p = postureOf(
      [agent],
      [
        finding({ type: 'behaviour_anomaly', severity: 'medium' }, `${T}/support/-`, 'app'),
        finding({ type: 'behaviour_anomaly', severity: 'medium' }, `${T}/user:alice`, 'user'),
        finding({ type: 'silent_model_change', severity: 'low' }, `${T}/model:gpt-4o`, 'model'),
      ],
    );
    expect(p.assets.map((a) => `${a.kind}:${a.name}`)).toEqual([
      'agent:helper',
      'app:support',
      'model:gpt-4o',
      'user:alice',
    ]);
    expect(assetOf(p, 'user', 'alice').approval).toBe('unjudged');
    expect(p.open_findings).toBe(3);
  });

  it('lists the top three actions, each gaining exactly what re-scoring without it gains', () => {
    const inventory: PostureAssetInput[] = [
      agent,
      { kind: 'provider', name: 'deepseek', approval: 'unapproved' },
      { kind: 'model', name: 'gpt-4o', approval: 'approved' },
    ];
    const findings = [
      finding({ type: 'prompt_injection', severity: 'critical', score: 0.7 }),
      finding({ type: 'prompt_injection', severity: 'medium', score: 0.7 }),
      finding({ type: 'exfiltration', severity: 'high', score: 0.8 }),
      finding({ type: 'behaviour_anomaly', severity: 'medium', score: 0.95 }),
      finding({ type: 'shadow_ai', severity: 'medium', score: 0.9 }),
      finding({ type: 'silent_model_change', severity: 'low', score: 0.5 }, `${T}/model:gpt-4o`, 'model'),
      ...Array.from({ length: 8 }, () => finding({ type: 'excessive_agency', severity: 'low', score: 0.6 })),
    ];
    const p = postureOf(inventory, findings);
    const check = (actions: Posture['actions'], rescore: (target: string, kind: string) => number, now: number) => {
      expect(actions).toHaveLength(3);
      for (let i = 1; i < actions.length; i++)
        expect(actions[i - 1]!.points).toBeGreaterThanOrEqual(actions[i]!.points);
      for (const action of actions) expect(action.points).toBeCloseTo(rescore(action.target, action.kind) - now, 9);
    };
    const without = (target: string, kind: string): Posture =>
      kind === 'resolve_finding'
        ? postureOf(
            inventory,
            findings.filter((f) => f.id !== target),
          )
        : postureOf(
            inventory.map((a) => (`${a.kind}:${a.name}` === target ? { ...a, approval: 'approved' as const } : a)),
            findings,
          );
    // The tenant's actions.
    check(p.actions, (target, kind) => without(target, kind).score, p.score);
    // The agent's actions.
    const helper = assetOf(p, 'agent', 'helper');
    check(helper.actions, (target, kind) => assetOf(without(target, kind), 'agent', 'helper').score, helper.score);
    // The high exfiltration (data leakage has the larger share) and the critical injection come first.
    expect(helper.actions.slice(0, 2).map((a) => [a.target, a.category])).toEqual([
      [findings[2]!.id, 'data_leakage'],
      [findings[0]!.id, 'injection_exposure'],
    ]);

    // No other single action gains more than the third listed (brute force over every finding and approval).
    const all = [
      ...findings.map((f) => without(f.id, 'resolve_finding').score - p.score),
      without('provider:deepseek', 'approve_asset').score - p.score,
    ].sort((a, b) => b - a);
    expect(p.actions.map((a) => a.points)).toEqual(all.slice(0, 3).map((v) => expect.closeTo(v, 9) as unknown));
    const allHelper = findings
      .filter((f) => f.asset.endsWith('/helper'))
      .map((f) => assetOf(without(f.id, 'resolve_finding'), 'agent', 'helper').score - helper.score)
      .sort((a, b) => b - a);
    expect(helper.actions.map((a) => a.points)).toEqual(
      allHelper.slice(0, 3).map((v) => expect.closeTo(v, 9) as unknown),
    );
  });

  it('is deterministic whatever the order of its inputs', () => {
    const findings = Array.from({ length: 12 }, (_, i) =>
      finding({ type: i % 2 ? 'exfiltration' : 'excessive_agency', severity: 'medium', score: 0.7 }),
    );
    const a = postureOf([agent], findings);
    const b = postureOf([agent], [...findings].reverse());
    expect(b).toEqual(a);
  });

  it('refuses options out of range', () => {
    expect(() => postureOf([], [], { decay: 0 })).toThrow(/decay/);
    expect(() => postureOf([], [], { unapprovedWeight: 2 })).toThrow(/unapprovedWeight/);
  });
});
