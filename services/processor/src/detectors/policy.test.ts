import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { globMatch } from './glob.ts';
import {
  EMPTY_POLICY,
  PolicyError,
  approval,
  grantedScopes,
  hostOf,
  isInternal,
  loadPolicy,
  ownerOf,
  parsePolicy,
} from './policy.ts';
import { RULES_DIR } from './rule-pack.ts';

const dir = mkdtempSync(join(tmpdir(), 'aispm-policy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const example = loadPolicy(join(RULES_DIR, 'policy/policy.example.json'));

describe('globs', () => {
  it.each([
    ['gpt-4o*', 'gpt-4o', true],
    ['gpt-4o*', 'gpt-4o-2024-08-06', true],
    ['gpt-4o*', 'GPT-4O-mini', true],
    ['gpt-4o*', 'gpt-4', false],
    ['*.openai.com', 'api.openai.com', true],
    ['*.openai.com', 'openai.com', false],
    ['*.openai.com', 'api.openai.com.evil.example', false],
    ['bedrock-runtime.*.amazonaws.com', 'bedrock-runtime.us-east-1.amazonaws.com', true],
    ['gpt-?o', 'gpt-4o', true],
    ['gpt-?o', 'gpt-44o', false],
    ['*', '', true],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXbYY', false],
    ['exact', 'exact', true],
  ])('%s on %s: %s', (pattern, name, match) => {
    expect(globMatch(pattern, name)).toBe(match);
  });

  it('stays fast on a hostile pattern', () => {
    const start = performance.now();
    expect(globMatch('*a*a*a*a*a*a*a*a*b', 'a'.repeat(5000))).toBe(false);
    expect(performance.now() - start).toBeLessThan(500);
  });
});

describe('inventory policy', () => {
  it('approves names and globs, snapshots of approved aliases, and says unjudged without a list', () => {
    expect(approval(example, 'model', 'gpt-4o')).toBe('approved');
    expect(approval(example, 'model', 'gpt-4o-2024-08-06')).toBe('approved');
    expect(approval(example, 'model', 'claude-sonnet-4-5-20250929')).toBe('approved');
    expect(approval(example, 'model', 'gpt-4.1-mini')).toBe('approved');
    expect(approval(example, 'model', 'deepseek-chat')).toBe('unapproved');
    expect(approval(example, 'endpoint', 'api.openai.com:443')).toBe('approved');
    expect(approval(example, 'endpoint', 'https://myco.openai.azure.com/openai/deployments/x')).toBe('approved');
    expect(approval(example, 'endpoint', 'api.deepseek.com')).toBe('unapproved');
    expect(approval(example, 'provider', 'OpenAI')).toBe('approved');
    expect(approval(example, 'app', 'billing-portal')).toBe('approved');
    expect(approval(example, 'app', 'hr-helper')).toBe('unapproved');
    for (const kind of ['provider', 'model', 'endpoint', 'app'] as const)
      expect(approval(EMPTY_POLICY, kind, 'anything')).toBe('unjudged');
    expect(approval(parsePolicy({ approved: { models: [] } }), 'model', 'gpt-4o')).toBe('unapproved');
  });

  it('finds owners by exact key, then glob keys, then the agent entry', () => {
    expect(ownerOf(example, 'app', 'support-copilot')).toBe('team-support@acme.example');
    expect(ownerOf(example, 'app', 'billing-portal')).toBe('team-billing@acme.example');
    expect(ownerOf(example, 'agent', 'ops-agent')).toBe('sre@acme.example');
    expect(ownerOf(example, 'model', 'gpt-4o')).toBe('ml-platform@acme.example');
    expect(ownerOf(example, 'tool', 'run_shell')).toBeNull();
    expect(ownerOf(EMPTY_POLICY, 'app', 'x')).toBeNull();
  });

  it('tells internal destinations from external ones', () => {
    expect(isInternal(example, 'billing.acme.example')).toBe(true);
    expect(isInternal(example, 'db.prod.svc.cluster.local:5432')).toBe(true);
    expect(isInternal(example, 'api.openai.com')).toBe(false);
    expect(isInternal(example, 'acme.example.attacker.example')).toBe(false);
    for (const host of ['localhost', '127.0.0.1', '10.1.2.3:8080', '192.168.0.4', '172.20.0.1', '[::1]:443', 'fd00::1'])
      expect(isInternal(EMPTY_POLICY, host)).toBe(true);
    for (const host of ['8.8.8.8', '172.32.0.1', 'example.com', '2001:db8::1'])
      expect(isInternal(EMPTY_POLICY, host)).toBe(false);
  });

  it('grants the span`s scopes, else the policy`s for the agent (exact, then glob), else unknown', () => {
    expect(grantedScopes(example, 'billing-bot', ['x:read'])).toEqual(['x:read']);
    expect(grantedScopes(example, 'billing-bot', [])).toEqual(['invoices:read', 'email:send']);
    expect(grantedScopes(example, 'triage-eu', [])).toEqual(['tickets:read', 'tickets:write']);
    expect(grantedScopes(example, 'unknown-agent', [])).toBeNull();
    expect(grantedScopes(example, null, [])).toBeNull();
  });

  it('normalises hosts', () => {
    expect(hostOf('HTTPS://API.OpenAI.com:443/v1/chat')).toBe('api.openai.com');
    expect(hostOf('[2001:db8::1]:443')).toBe('2001:db8::1');
    expect(hostOf('2001:db8::1')).toBe('2001:db8::1');
    expect(hostOf('smtp.acme.example.')).toBe('smtp.acme.example');
  });

  it('lists every problem of a bad policy file with where it is', () => {
    const file = join(dir, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify({
        version: 3,
        approved: { models: ['gpt-4o', ''], hosts: ['x'] },
        owners: { 'support-copilot': 'me', 'app:x': 7 },
        agents: { bot: { scopes: 'all', role: 'x' }, other: [] },
        internal_destinations: '*.acme.example',
        extra: true,
      }),
    );
    let error: unknown;
    try {
      loadPolicy(file);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PolicyError);
    expect((error as PolicyError).message.split('\n')[0]).toBe(`inventory policy ${file} is invalid:`);
    expect((error as PolicyError).problems).toEqual([
      'extra: unknown field (expected one of version, description, approved, owners, agents, internal_destinations)',
      'approved.models[1]: must be a non-empty string',
      'approved.hosts: unknown list (expected one of providers, models, endpoints, apps)',
      'owners.support-copilot: key must be "<asset type>:<name>", e.g. "app:support-bot"',
      'owners.app:x: must be a non-empty string',
      'agents.bot.role: unknown field (expected scopes, owner)',
      'agents.bot.scopes: must be a list of names or globs',
      'agents.other: must be an object with "scopes" and/or "owner"',
      'internal_destinations: must be a list of names or globs',
    ]);
  });

  it('says when the file is missing or not JSON', () => {
    expect(() => loadPolicy(join(dir, 'nope.json'))).toThrow(/cannot read the file/);
    const file = join(dir, 'half.json');
    writeFileSync(file, '{"approved":');
    expect(() => loadPolicy(file)).toThrow(/not valid JSON/);
  });
});
