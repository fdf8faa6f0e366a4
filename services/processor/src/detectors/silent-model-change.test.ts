import { describe, expect, it } from 'vitest';
import { canonicalModel, sameModel } from './models.ts';
import { compileRules, loadRules, parseBehaviourPack, DEFAULT_BEHAVIOUR_PACK } from './rule-pack.ts';
import { MAX_FINGERPRINT_MODELS, type FingerprintMemo } from './silent-model-change.ts';
import { Session, event, routine, rulesOf } from './testing.ts';
import { readFileSync } from 'node:fs';

const AFTER = 120 * 30;

describe('model equivalence', () => {
  it.each([
    ['gpt-4o', 'gpt-4o-2024-08-06'],
    ['gpt-4o-mini', 'gpt-4o-mini-2024-07-18'],
    ['gpt-4', 'gpt-4-0613'],
    ['gpt-3.5-turbo', 'gpt-3.5-turbo-0125'],
    ['claude-sonnet-4-5', 'claude-sonnet-4-5-20250929'],
    ['claude-3-5-sonnet-latest', 'claude-3-5-sonnet-20241022'],
    ['claude-3-5-sonnet@20240620', 'claude-3-5-sonnet-20240620'],
    ['us.anthropic.claude-3-5-sonnet-20240620-v1:0', 'claude-3-5-sonnet-20240620'],
    ['models/gemini-1.5-pro', 'gemini-1.5-pro-002'],
    ['openai/gpt-4o', 'gpt-4o-2024-11-20'],
    ['mistral-large-latest', 'mistral-large-2407'],
    ['GPT-4o', 'gpt-4o'],
  ])('%s is answered by its own snapshot %s', (requested, responded) => {
    expect(sameModel(requested, responded)).toBe(true);
  });

  it.each([
    ['gpt-4o', 'gpt-4o-mini'],
    ['gpt-4o', 'gpt-4o-mini-2024-07-18'],
    ['gpt-4', 'gpt-4o'],
    ['claude-sonnet-4-5', 'claude-haiku-4-5-20251001'],
    ['claude-opus-4-1', 'claude-sonnet-4-20250514'],
    ['gemini-1.5-pro', 'gemini-1.5-flash-002'],
  ])('%s answered by %s is a change', (requested, responded) => {
    expect(sameModel(requested, responded)).toBe(false);
  });

  it('keeps the name when stripping would leave nothing', () => {
    expect(canonicalModel('2024-08-06')).toBe('2024-08-06');
  });
});

describe('silent model change', () => {
  it('flags a model answered by another, but not by its dated snapshot', () => {
    const s = new Session();
    expect(s.feedAll(routine())).toEqual([]);
    const found = s.feed(event(AFTER, { request_model: 'gpt-4o', response_model: 'gpt-4o-mini-2024-07-18' }));
    expect(rulesOf(found)).toContain('silent_model_change.substitution');
    const f = found.find((x) => x.rule === 'silent_model_change.substitution')!;
    expect(f.title).toBe('Model gpt-4o answered by gpt-4o-mini-2024-07-18');
    expect(f.owasp_llm).toContain('LLM03:2025');
  });

  it('flags a model new to the learned mix after learning, not while learning', () => {
    const early = new Session();
    early.feedAll(routine(30));
    expect(early.feed(event(30 * 30, { request_model: 'gpt-4o', response_model: 'gpt-4o-2024-11-20' }))).toEqual([]);

    const s = new Session();
    s.feedAll(routine());
    // Same alias, a snapshot the agent never got: no substitution, but a new model answering.
    const found = s.feed(event(AFTER, { request_model: 'gpt-4o', response_model: 'gpt-4o-2024-11-20' }));
    expect(rulesOf(found)).toEqual(['silent_model_change.novel_model']);
    expect(found[0]!.severity).toBe('low');
  });

  it('flags a changed system fingerprint of the same model, and tolerates a small rotation', () => {
    const s = new Session();
    const fp = (i: number, value: string) =>
      event(i * 30, { attributes: { 'gen_ai.openai.response.system_fingerprint': value } });
    // The provider moves to a second backend (news once), then rotates between the two: known fingerprints are not news.
    expect(s.feed(fp(0, 'fp_aaa'))).toEqual([]);
    expect(rulesOf(s.feed(fp(1, 'fp_bbb')))).toEqual(['silent_model_change.fingerprint']);
    for (let i = 2; i < 60; i++) expect(s.feed(fp(i, i % 2 ? 'fp_aaa' : 'fp_bbb'))).toEqual([]);
    const found = s.feed(fp(60, 'fp_ccc'));
    expect(rulesOf(found)).toEqual(['silent_model_change.fingerprint']);
    expect(found[0]!.evidence[0]).toMatch(/openai\/gpt-4o-2024-08-06 answered with system fingerprint fp_ccc/);
    expect(s.feed(fp(61, 'fp_ccc'))).toEqual([]);
  });

  it('keeps its memo bounded: at most 16 models, at most fingerprints_kept each', () => {
    const s = new Session();
    for (let i = 0; i < 40; i++)
      s.feed(
        event(i, {
          request_model: `m-${i % 20}`,
          response_model: `m-${i % 20}`,
          attributes: { 'gen_ai.openai.response.system_fingerprint': `fp_${i}` },
        }),
      );
    const memo = s.memos.silent_model_change as FingerprintMemo;
    expect(Object.keys(memo.fingerprints).length).toBe(MAX_FINGERPRINT_MODELS);
    for (const list of Object.values(memo.fingerprints)) expect(list.length).toBeLessThanOrEqual(4);
  });

  it('takes a tenant`s equivalents for deployment names', () => {
    const raw = JSON.parse(readFileSync(DEFAULT_BEHAVIOUR_PACK, 'utf8')) as Record<string, unknown>;
    raw.tenants = {
      acme: { 'silent_model_change.substitution': { params: { equivalents: { 'prod-chat': ['gpt-4o'] } } } },
    };
    const rules = compileRules(parseBehaviourPack(raw, 'test'));
    const e = event(0, { request_model: 'prod-chat', response_model: 'gpt-4o-2024-08-06' });
    expect(new Session({ rules }).feed(e)).toEqual([]);
    expect(rulesOf(new Session({ rules: loadRules() }).feed({ ...e, event_id: 'other' }))).toEqual([
      'silent_model_change.substitution',
    ]);
  });
});
