import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Logger } from '@aispm/core';
import {
  BehaviourPackError,
  DEFAULT_BEHAVIOUR_PACK,
  RulePackSource,
  loadRules,
  parseBehaviourPack,
  ruleCatalogue,
} from './rule-pack.ts';
import { DEFAULT_DETECTORS } from './registry.ts';

const dir = mkdtempSync(join(tmpdir(), 'aispm-behaviour-pack-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Json = Record<string, unknown> & { rules: Record<string, unknown>[] };
const pristine = (): Json => JSON.parse(readFileSync(DEFAULT_BEHAVIOUR_PACK, 'utf8')) as Json;
const ruleIn = (pack: Json, id: string): Record<string, unknown> => pack.rules.find((r) => r.id === id)!;

/** The problems a pack has, as the loader words them. */
function problems(pack: unknown): string[] {
  try {
    parseBehaviourPack(pack, 'behaviour.test.json');
  } catch (err) {
    expect(err).toBeInstanceOf(BehaviourPackError);
    expect((err as Error).message).toMatch(/^behaviour rule pack behaviour\.test\.json is invalid:/);
    return (err as BehaviourPackError).problems;
  }
  return [];
}

describe('behaviour rule pack', () => {
  it('ships a valid pack with every rule every detector raises, and the baseline`s two', () => {
    const rules = loadRules();
    expect(rules.version).toBe('behaviour/1');
    for (const id of ruleCatalogue().keys()) expect(rules.forTenant('any').get(id)?.id).toBe(id);
    expect(rules.forTenant('any').get('behaviour_anomaly')!.detector).toBe('baseline');
    expect(rules.forTenant('any').get('behaviour_drift')!.owasp_agentic).toEqual(['ASI10']);
    const detectors = new Set(pristine().rules.map((r) => r.detector));
    for (const d of DEFAULT_DETECTORS) expect(detectors.has(d.id)).toBe(true);
  });

  it('names the rule and field of each problem', () => {
    const pack = pristine();
    ruleIn(pack, 'shadow_ai.model').severity = 'hgh';
    ruleIn(pack, 'denial_of_wallet.token_spike').params = { min_z: 'six', min_ratio: 5, min_tokens: 4000, extra: 1 };
    ruleIn(pack, 'exfiltration.new_destination_large_payload').params = { min_input_tokens: 2000 };
    ruleIn(pack, 'excessive_agency.scope_exceeded').mitre_atlas = ['T0053'];
    ruleIn(pack, 'guardrail.flag').detector = 'guardrail';
    ruleIn(pack, 'prompt_injection.direct').owasp_agentic = ['ASI11'];
    ruleIn(pack, 'toxic_combination.lethal_trifecta').params = {
      ...(ruleIn(pack, 'toxic_combination.lethal_trifecta').params as object),
      min_detection_score: 1.5,
      egress_tools: ['send_*', ''],
    };
    expect(problems(pack)).toEqual([
      'rule excessive_agency.scope_exceeded: mitre_atlas: must be a list of ids like "AML.T0053"',
      'rule toxic_combination.lethal_trifecta: params.egress_tools: entry 1 must be a string of 1–256 characters',
      'rule toxic_combination.lethal_trifecta: params.min_detection_score: must be a number in [0, 1]',
      'rule exfiltration.new_destination_large_payload: params.chars_per_token: missing (number)',
      'rule shadow_ai.model: severity: must be one of info, low, medium, high, critical (got "hgh")',
      'rule denial_of_wallet.token_spike: params.min_z: must be a number ≥ 0',
      'rule denial_of_wallet.token_spike: params.extra: unknown param (expected min_z, min_ratio, min_tokens)',
      'rule prompt_injection.direct: owasp_agentic: must be a list of ids like "ASI02"',
      'rule guardrail.flag: detector: must be "content" (got "guardrail")',
    ]);
  });

  it('refuses rules no detector raises, and a pack missing a rule a detector raises', () => {
    const pack = pristine();
    pack.rules = pack.rules.filter((r) => r.id !== 'shadow_ai.app');
    pack.rules.push({ ...ruleIn(pack, 'shadow_ai.model'), id: 'shadow_ai.mcp_server' });
    expect(problems(pack)).toEqual([
      'rule shadow_ai.mcp_server: no detector raises this rule (rules of that family: shadow_ai.provider, shadow_ai.model, shadow_ai.endpoint, shadow_ai.app)',
      'rule shadow_ai.app: missing; detector shadow_ai raises it, so the pack needs an entry',
    ]);
    const twice = pristine();
    twice.rules.push(ruleIn(twice, 'shadow_ai.app'));
    expect(problems(twice)).toEqual(['rule shadow_ai.app: defined twice']);
  });

  it('names the file when it is not JSON', () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{ "pack": ');
    expect(() => loadRules(file)).toThrow(`behaviour rule pack ${file} is invalid:\n  not valid JSON`);
  });

  it('applies per-tenant overrides from the pack, then from an overrides file, field by field and param by param', () => {
    const pack = pristine();
    pack.tenants = {
      acme: {
        'shadow_ai.app': { enabled: false },
        'denial_of_wallet.token_spike': { severity: 'high', params: { min_tokens: 100_000 } },
      },
    };
    const file = join(dir, 'tenants.json');
    writeFileSync(file, JSON.stringify(pack));
    const overrides = join(dir, 'overrides.json');
    writeFileSync(
      overrides,
      JSON.stringify({
        tenants: {
          acme: { 'denial_of_wallet.token_spike': { params: { min_z: 9 } } },
          beta: { 'shadow_ai.model': { confidence: 0.2 } },
        },
      }),
    );
    const rules = loadRules(file, { overridesFile: overrides });
    const acme = rules.forTenant('acme');
    expect(acme.get('shadow_ai.app')!.enabled).toBe(false);
    const spike = acme.get('denial_of_wallet.token_spike')!;
    expect(spike.severity).toBe('high');
    expect(spike.params).toEqual({ min_z: 9, min_ratio: 5, min_tokens: 100_000 });
    expect(rules.forTenant('beta').get('shadow_ai.model')!.confidence).toBe(0.2);
    // Everyone else gets the pack as it is.
    const other = rules.forTenant('other');
    expect(other.get('shadow_ai.app')!.enabled).toBe(true);
    expect(other.get('denial_of_wallet.token_spike')!.params).toEqual({ min_z: 6, min_ratio: 5, min_tokens: 4000 });
    expect([...rules.tenants].sort()).toEqual(['acme', 'beta']);
  });

  it('checks overrides like rules', () => {
    const pack = pristine();
    pack.tenants = {
      acme: {
        'shadow_ai.nope': { enabled: false },
        'shadow_ai.app': { title: 'x', severity: 'urgent', params: { kinds: ['llm_call'] } },
      },
    };
    expect(problems(pack)).toEqual([
      'tenant acme: rule shadow_ai.nope: no such rule in the pack',
      'tenant acme: rule shadow_ai.app: title: cannot be overridden (only enabled, severity, confidence, params)',
      'tenant acme: rule shadow_ai.app: severity: must be one of info, low, medium, high, critical (got "urgent")',
      'tenant acme: rule shadow_ai.app: params.kinds: unknown param (this rule takes none)',
    ]);
  });
});

describe('RulePackSource', () => {
  function recordingLogger(): Logger & { errors: string[]; infos: string[] } {
    const errors: string[] = [];
    const infos: string[] = [];
    return {
      errors,
      infos,
      debug() {},
      warn() {},
      info: (m) => void infos.push(m),
      error: (m, fields) => void errors.push(`${m}: ${String(fields?.error)}`),
    };
  }

  /** Writes the file and moves its modification time on, as an editor's save would. */
  let tick = Date.now() / 1000;
  function save(file: string, pack: unknown): void {
    writeFileSync(file, typeof pack === 'string' ? pack : JSON.stringify(pack));
    tick += 5;
    utimesSync(file, tick, tick);
  }

  it('re-reads the pack when it changes, at most every N seconds, and keeps the rules in force when a new version is bad', () => {
    const file = join(dir, 'live.json');
    save(file, pristine());
    let now = 1_000_000;
    const logger = recordingLogger();
    const source = new RulePackSource({ file, checkEverySeconds: 30, logger, now: () => now });
    const first = source.current();
    expect(first.forTenant('acme').get('shadow_ai.app')!.enabled).toBe(true);

    // A good change: not seen before the interval is up, then in force.
    const pack = pristine();
    ruleIn(pack, 'shadow_ai.app').enabled = false;
    save(file, pack);
    now += 10_000;
    expect(source.current()).toBe(first);
    now += 25_000;
    const second = source.current();
    expect(second).not.toBe(first);
    expect(second.forTenant('acme').get('shadow_ai.app')!.enabled).toBe(false);
    expect(source.reloads).toBe(1);
    expect(logger.infos).toEqual(['behaviour rule pack reloaded']);

    // A bad change: rejected, logged once, the previous rules stay.
    const bad = pristine();
    ruleIn(bad, 'shadow_ai.app').severity = 'hgh';
    save(file, bad);
    now += 31_000;
    expect(source.current()).toBe(second);
    now += 31_000;
    expect(source.current()).toBe(second);
    expect(source.failures).toBe(1);
    expect(logger.errors).toHaveLength(1);
    expect(logger.errors[0]).toMatch(
      /rejected; the previous rules stay in force: .*rule shadow_ai\.app: severity: must be one of/s,
    );

    // Half-written JSON: rejected too.
    save(file, '{"pack": "behav');
    now += 31_000;
    expect(source.current()).toBe(second);
    expect(source.failures).toBe(2);

    // Fixed: in force again.
    const fixed = pristine();
    ruleIn(fixed, 'shadow_ai.app').severity = 'high';
    save(file, fixed);
    expect(source.check()).toBe(true);
    expect(source.current().forTenant('x').get('shadow_ai.app')!.severity).toBe('high');
  });

  it('watches the overrides file too', () => {
    const file = join(dir, 'pack-with-overrides.json');
    const overrides = join(dir, 'live-overrides.json');
    save(file, pristine());
    save(overrides, { tenants: {} });
    const source = new RulePackSource({ file, overridesFile: overrides, checkEverySeconds: 0 });
    expect(source.current().forTenant('acme').get('shadow_ai.app')!.enabled).toBe(true);
    save(overrides, { tenants: { acme: { 'shadow_ai.app': { enabled: false } } } });
    expect(source.current().forTenant('acme').get('shadow_ai.app')!.enabled).toBe(false);
    expect(source.current().forTenant('beta').get('shadow_ai.app')!.enabled).toBe(true);
  });

  it('stops start-up on a bad pack', () => {
    const file = join(dir, 'bad-start.json');
    const bad = pristine();
    ruleIn(bad, 'shadow_ai.app').confidence = 2;
    save(file, bad);
    expect(() => new RulePackSource({ file })).toThrow(/rule shadow_ai\.app: confidence: must be a number in \[0, 1\]/);
    expect(() => new RulePackSource({ file: join(dir, 'missing.json') })).toThrow(/cannot read the rule pack/);
  });
});
