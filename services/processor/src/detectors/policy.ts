import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { AispmError, describeError } from '@aispm/core';
import { globMatch, matchesAny } from './glob.ts';
import { canonicalModel } from './models.ts';
import type { InventoryPolicy } from './types.ts';

/**
 * The inventory policy (AISPM_POLICY_FILE, example in rules/policy/): what is
 * approved, who owns what, which scopes agents are granted, which destinations
 * are internal. Loaded and checked once at start; a bad file stops start-up with
 * every problem listed (`policy.json: approved.models[2]: must be a non-empty string`).
 *
 * These four functions are the policy's whole reading API (inventory, posture and
 * the detectors use them): approval, ownerOf, isInternal, grantedScopes.
 */
export class PolicyError extends AispmError {
  readonly problems: string[];

  constructor(file: string, problems: string[]) {
    super('policy_invalid', `inventory policy ${file} is invalid:\n  ${problems.join('\n  ')}`);
    this.name = 'PolicyError';
    this.problems = problems;
  }
}

/** Nothing approved or unapproved (no list), no owners, no grants, nothing internal but loopback and private addresses. */
export const EMPTY_POLICY: InventoryPolicy = Object.freeze({
  version: 'empty',
  approved: Object.freeze({}),
  owners: Object.freeze({}),
  agents: Object.freeze({}),
  internal_destinations: [],
});

export type ApprovalKind = 'provider' | 'model' | 'endpoint' | 'app';
export type Approval = 'approved' | 'unapproved' | 'unjudged';

const APPROVED_LIST: Record<ApprovalKind, keyof InventoryPolicy['approved']> = {
  provider: 'providers',
  model: 'models',
  endpoint: 'endpoints',
  app: 'apps',
};

/**
 * Whether a provider, model, endpoint (host) or app is approved: `unjudged` when
 * the policy has no list for that kind, else `approved` when a name or glob in
 * the list matches (case-insensitive), else `unapproved`. A model also counts as
 * approved when its canonical name (models.ts: `gpt-4o-2024-08-06` → `gpt-4o`)
 * matches, so approving an alias approves its dated snapshots. An endpoint is
 * compared without its port.
 */
export function approval(policy: InventoryPolicy, kind: ApprovalKind, name: string): Approval {
  const list = policy.approved[APPROVED_LIST[kind]];
  if (!list) return 'unjudged';
  const subject = kind === 'endpoint' ? hostOf(name) : name;
  if (matchesAny(list, subject)) return 'approved';
  if (kind === 'model') {
    const canonical = canonicalModel(name);
    if (canonical !== name.toLowerCase() && matchesAny(list, canonical)) return 'approved';
  }
  return 'unapproved';
}

/**
 * The owner of an asset: `owners["<type>:<name>"]` (exact key first, then keys
 * holding globs, in file order), else for an agent its `agents[name].owner`; null when none.
 */
export function ownerOf(policy: InventoryPolicy, assetType: string, name: string): string | null {
  const key = `${assetType}:${name}`;
  const exact = policy.owners[key];
  if (exact !== undefined) return exact;
  for (const [pattern, owner] of Object.entries(policy.owners))
    if (pattern.includes('*') || pattern.includes('?')) if (globMatch(pattern, key)) return owner;
  if (assetType === 'agent') return agentEntry(policy, name)?.owner ?? null;
  return null;
}

/**
 * Whether a destination host is internal: loopback, private and link-local
 * addresses, `localhost`, and hosts matching the policy's `internal_destinations`
 * globs. Everything else is external. A port (`db:5432`, `[::1]:443`) is ignored.
 */
export function isInternal(policy: InventoryPolicy, host: string): boolean {
  const h = hostOf(host);
  if (h === '' || h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) !== 0) return privateAddress(h) || matchesAny(policy.internal_destinations, h);
  return matchesAny(policy.internal_destinations, h);
}

/**
 * The scopes an agent holds for an event: the scopes its spans carry when they
 * carry any (`aispm.scopes`), else the policy's grant for the agent (exact name,
 * then glob keys). Null when neither says: the grant is unknown and not judged.
 */
export function grantedScopes(
  policy: InventoryPolicy,
  agent: string | null,
  eventScopes: readonly string[],
): readonly string[] | null {
  if (eventScopes.length > 0) return eventScopes;
  if (agent === null) return null;
  return agentEntry(policy, agent)?.scopes ?? null;
}

function agentEntry(policy: InventoryPolicy, agent: string): InventoryPolicy['agents'][string] | undefined {
  const exact = policy.agents[agent];
  if (exact) return exact;
  for (const [pattern, entry] of Object.entries(policy.agents))
    if ((pattern.includes('*') || pattern.includes('?')) && globMatch(pattern, agent)) return entry;
  return undefined;
}

/** A destination as a bare lower-case host: no scheme, path, port, brackets or trailing dot. */
export function hostOf(destination: string): string {
  let h = destination.trim().toLowerCase();
  const scheme = h.indexOf('://');
  if (scheme >= 0) h = h.slice(scheme + 3);
  const slash = h.indexOf('/');
  if (slash >= 0) h = h.slice(0, slash);
  if (h.startsWith('[')) {
    const close = h.indexOf(']');
    return close > 0 ? h.slice(1, close) : h.slice(1);
  }
  // One colon is a port; more is a bare IPv6 address.
  const colon = h.indexOf(':');
  if (colon >= 0 && colon === h.lastIndexOf(':')) h = h.slice(0, colon);
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

function privateAddress(ip: string): boolean {
  if (ip.includes(':')) {
    return ip === '::1' || /^f[cd][0-9a-f]{0,2}:/.test(ip) || /^fe[89ab][0-9a-f]?:/.test(ip);
  }
  const [a = -1, b = -1] = ip.split('.').map(Number);
  return (
    a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254)
  );
}

// --- loading -------------------------------------------------------------------------------------

const TOP_KEYS = new Set(['version', 'description', 'approved', 'owners', 'agents', 'internal_destinations']);
const APPROVED_KEYS = new Set(Object.values(APPROVED_LIST));
/** Entries per list and map, at most: a policy is read on every event. */
export const MAX_POLICY_ENTRIES = 10_000;

/** Reads and checks a policy file; throws PolicyError listing every problem. */
export function loadPolicy(path: string): InventoryPolicy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PolicyError(path, [`cannot read the file: ${describeError(err)}`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PolicyError(path, [`not valid JSON: ${describeError(err)}`]);
  }
  return parsePolicy(raw, path);
}

/** Checks a parsed policy (from a file or a config object); `source` names it in errors. */
export function parsePolicy(raw: unknown, source = 'policy'): InventoryPolicy {
  const problems: string[] = [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new PolicyError(source, ['must be an object']);
  const o = raw as Record<string, unknown>;
  for (const key of Object.keys(o))
    if (!TOP_KEYS.has(key)) problems.push(`${key}: unknown field (expected one of ${[...TOP_KEYS].join(', ')})`);

  let version = 'unversioned';
  if (typeof o.version === 'string' && o.version !== '') version = o.version;
  else if (typeof o.version === 'number') version = String(o.version);
  else if (o.version !== undefined) problems.push('version: must be a string or a number');

  const approved: InventoryPolicy['approved'] = {};
  if (o.approved !== undefined) {
    if (!isObject(o.approved)) problems.push('approved: must be an object');
    else
      for (const [key, list] of Object.entries(o.approved)) {
        if (!APPROVED_KEYS.has(key as keyof InventoryPolicy['approved'])) {
          problems.push(`approved.${key}: unknown list (expected one of ${[...APPROVED_KEYS].join(', ')})`);
          continue;
        }
        const checked = stringList(list, `approved.${key}`, problems);
        if (checked) approved[key as keyof InventoryPolicy['approved']] = checked;
      }
  }

  const owners: Record<string, string> = {};
  if (o.owners !== undefined) {
    if (!isObject(o.owners)) problems.push('owners: must be an object of "<type>:<name>": "owner"');
    else {
      const entries = Object.entries(o.owners);
      if (entries.length > MAX_POLICY_ENTRIES) problems.push(`owners: at most ${MAX_POLICY_ENTRIES} entries`);
      for (const [key, owner] of entries) {
        if (!/^[a-z_]+:.+/.test(key))
          problems.push(`owners.${key}: key must be "<asset type>:<name>", e.g. "app:support-bot"`);
        if (typeof owner !== 'string' || owner === '') problems.push(`owners.${key}: must be a non-empty string`);
        else owners[key] = owner;
      }
    }
  }

  const agents: InventoryPolicy['agents'] = {};
  if (o.agents !== undefined) {
    if (!isObject(o.agents)) problems.push('agents: must be an object of agent name → { scopes, owner }');
    else {
      const entries = Object.entries(o.agents);
      if (entries.length > MAX_POLICY_ENTRIES) problems.push(`agents: at most ${MAX_POLICY_ENTRIES} entries`);
      for (const [name, entry] of entries) {
        if (!isObject(entry)) {
          problems.push(`agents.${name}: must be an object with "scopes" and/or "owner"`);
          continue;
        }
        const checked: InventoryPolicy['agents'][string] = {};
        for (const key of Object.keys(entry))
          if (key !== 'scopes' && key !== 'owner')
            problems.push(`agents.${name}.${key}: unknown field (expected scopes, owner)`);
        if (entry.scopes !== undefined) {
          const scopes = stringList(entry.scopes, `agents.${name}.scopes`, problems);
          if (scopes) checked.scopes = scopes;
        }
        if (entry.owner !== undefined) {
          if (typeof entry.owner !== 'string' || entry.owner === '')
            problems.push(`agents.${name}.owner: must be a non-empty string`);
          else checked.owner = entry.owner;
        }
        agents[name] = checked;
      }
    }
  }

  let internal: string[] = [];
  if (o.internal_destinations !== undefined)
    internal = (stringList(o.internal_destinations, 'internal_destinations', problems) ?? []).map((h) =>
      h.toLowerCase(),
    );

  if (problems.length > 0) throw new PolicyError(source, problems);
  return { version, approved, owners, agents, internal_destinations: internal };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function stringList(value: unknown, where: string, problems: string[]): string[] | null {
  if (!Array.isArray(value)) {
    problems.push(`${where}: must be a list of names or globs`);
    return null;
  }
  if (value.length > MAX_POLICY_ENTRIES) problems.push(`${where}: at most ${MAX_POLICY_ENTRIES} entries`);
  const out: string[] = [];
  value.forEach((item, i) => {
    if (typeof item !== 'string' || item.trim() === '') problems.push(`${where}[${i}]: must be a non-empty string`);
    else out.push(item.trim());
  });
  return out;
}
