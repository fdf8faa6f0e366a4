import { readFileSync } from 'node:fs';
import { AispmError, describeError } from '../../errors.ts';
import { CONTENT_CHANNELS, type ContentChannel } from '../types.ts';
import { DETECT_DEFAULTS } from '../detect.ts';
import type { ContentDetection } from '../verdict.ts';

/**
 * Guard policies: which verdicts stop a call (`block`), which have their stretch
 * masked before the text goes on (`redact`), and which pass (`allow`).
 * The format is documented in README.md next to this file.
 */
export const GUARD_ACTIONS = ['allow', 'redact', 'block'] as const;
export type GuardAction = (typeof GUARD_ACTIONS)[number];

/** How strong each action is: a text gets the strongest action of its detections. */
export const ACTION_RANK: Readonly<Record<GuardAction, number>> = { allow: 0, redact: 1, block: 2 };

/** One entry of a policy as written (JSON or an object). Omitted selectors match everything. */
export interface GuardRuleInput {
  /** A name for the entry, reported as the deciding rule (default `rules[<index>]`). */
  id?: string;
  /** The detection's rule id, `*` as a wildcard: `inj.override.*`, `secret.aws_access_key`. */
  rule?: string;
  /** The detector: `injection`, `sensitive`, or a wildcard. */
  detector?: string;
  /** The detection's kind, `*` as a wildcard: `jailbreak`, `email`, `*_token`. */
  kind?: string;
  /** Where the text entered: user_prompt, tool_output, retrieved_doc, completion, tool_arguments (default: all). */
  channels?: ContentChannel[];
  /** Injection verdicts only: `attack` (score ≥ 0.5) or `suspicious` (≥ 0.25) and stronger. */
  label?: 'attack' | 'suspicious';
  /** The detection's score at least, in [0, 1]. */
  minScore?: number;
  action: GuardAction;
}

export interface GuardPolicyInput {
  /** The format's version: 1. */
  version?: 1;
  /** The policy's name, recorded on spans (gen_ai.guardrail.security.policy.id); default `aispm.guard.default`. */
  id?: string;
  /** Whether the built-in rules (DEFAULT_GUARD_RULES) apply under this policy's own (default true). */
  defaults?: boolean;
  /** The action for a detection no entry matches (default `allow`). */
  default?: GuardAction;
  rules?: GuardRuleInput[];
  /** UTF-8 bytes of each text scanned at most (default 32 KiB, at most 1 MiB); the rest is not scanned. */
  maxScanBytes?: number;
  /** What a text longer than maxScanBytes gets: `allow` (its scanned head decides, the default) or `block`. */
  oversize?: 'allow' | 'block';
}

/** A validated entry, ready to match. */
export interface CompiledGuardRule {
  readonly id: string;
  readonly action: GuardAction;
  /** 1 for the policy's own entries, 0 for the built-in defaults: any own entry beats every default. */
  readonly layer: number;
  readonly order: number;
  readonly rule: RegExp | null;
  readonly detector: RegExp | null;
  readonly kind: RegExp | null;
  readonly channels: ReadonlySet<ContentChannel> | null;
  readonly minScore: number;
  /** Detectors the entry can apply to (null: any). */
  readonly onlyDetector: string | null;
  /** Higher is more specific; compared element by element. */
  readonly specificity: readonly number[];
}

/** Marks a compiled policy (so an object written in code is never mistaken for one). */
const COMPILED: unique symbol = Symbol('aispm.guard.policy');

export interface GuardPolicy {
  readonly [COMPILED]: true;
  readonly id: string;
  readonly default: GuardAction;
  /** Most specific first. */
  readonly rules: readonly CompiledGuardRule[];
  readonly maxScanBytes: number;
  readonly oversize: 'allow' | 'block';
}

/** A policy that cannot be used: the message names the entry and field, and the form expected. */
export class GuardPolicyError extends AispmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('guard_policy_invalid', `guard policy: ${message}`, options);
    this.name = 'GuardPolicyError';
  }
}

/**
 * Built in, applied under a policy's own entries unless it says `"defaults": false`:
 * block what the injection detector calls an attack in a user prompt or a tool's
 * output, redact secrets wherever they are, allow the rest.
 */
export const DEFAULT_GUARD_RULES: readonly GuardRuleInput[] = [
  {
    id: 'default.injection.attack',
    detector: 'injection',
    channels: ['user_prompt', 'tool_output'],
    label: 'attack',
    action: 'block',
  },
  { id: 'default.secrets', detector: 'sensitive', rule: 'secret.*', action: 'redact' },
];

export const GUARD_POLICY_DEFAULTS = {
  maxScanBytes: DETECT_DEFAULTS.maxBytes,
  maxScanBytesLimit: 1024 * 1024,
} as const;

const POLICY_KEYS = new Set(['version', 'id', 'defaults', 'default', 'rules', 'maxScanBytes', 'oversize', '$schema']);
const RULE_KEYS = new Set(['id', 'rule', 'detector', 'kind', 'channels', 'label', 'minScore', 'action']);
/** Score thresholds of the injection labels (the detector's defaults). */
const LABEL_SCORE = { attack: DETECT_DEFAULTS.attackThreshold, suspicious: DETECT_DEFAULTS.suspiciousThreshold };
const GLOB = /^[\w.:*-]{1,128}$/;

/** Reads a JSON policy file; a missing file or bad JSON is a GuardPolicyError naming the path. */
export function loadGuardPolicy(path: string): GuardPolicy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new GuardPolicyError(`cannot read ${path}: ${describeError(err)}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new GuardPolicyError(`${path} is not JSON: ${describeError(err)}`, { cause: err });
  }
  return compileGuardPolicy(json, path);
}

/** Validates a policy object (parsed JSON or written in code); every problem is reported with its path. */
export function compileGuardPolicy(input: unknown = {}, source = 'policy'): GuardPolicy {
  const at = (path: string): string => `${source}${path === '' ? '' : `.${path}`}`;
  if (!isRecord(input)) throw new GuardPolicyError(`${source} must be an object, got ${typeName(input)}`);
  for (const key of Object.keys(input)) {
    if (!POLICY_KEYS.has(key))
      throw new GuardPolicyError(`${at(key)} is not a policy field (expected one of ${[...POLICY_KEYS].join(', ')})`);
  }
  if (input.version !== undefined && input.version !== 1)
    throw new GuardPolicyError(`${at('version')} must be 1, got ${JSON.stringify(input.version)}`);
  const id = optionalString(input.id, at('id')) ?? 'aispm.guard.default';
  if (input.defaults !== undefined && typeof input.defaults !== 'boolean')
    throw new GuardPolicyError(`${at('defaults')} must be true or false, got ${JSON.stringify(input.defaults)}`);
  const fallback = input.default === undefined ? 'allow' : action(input.default, at('default'));
  const maxScanBytes =
    input.maxScanBytes === undefined
      ? GUARD_POLICY_DEFAULTS.maxScanBytes
      : integer(input.maxScanBytes, at('maxScanBytes'));
  if (maxScanBytes < 1 || maxScanBytes > GUARD_POLICY_DEFAULTS.maxScanBytesLimit)
    throw new GuardPolicyError(
      `${at('maxScanBytes')} must be between 1 and ${GUARD_POLICY_DEFAULTS.maxScanBytesLimit}, got ${maxScanBytes}`,
    );
  const oversize = input.oversize ?? 'allow';
  if (oversize !== 'allow' && oversize !== 'block')
    throw new GuardPolicyError(`${at('oversize')} must be "allow" or "block", got ${JSON.stringify(oversize)}`);
  if (input.rules !== undefined && !Array.isArray(input.rules))
    throw new GuardPolicyError(`${at('rules')} must be an array of entries, got ${typeName(input.rules)}`);
  const own = ((input.rules ?? []) as unknown[]).map((raw, i) => compileRule(raw, i, 1, at(`rules[${i}]`)));
  const defaults =
    input.defaults === false ? [] : DEFAULT_GUARD_RULES.map((raw, i) => compileRule(raw, i, 0, `default rules[${i}]`));
  const ids = new Set<string>();
  for (const rule of own) {
    if (ids.has(rule.id)) throw new GuardPolicyError(`${source}: two entries have the id "${rule.id}"`);
    ids.add(rule.id);
  }
  const rules = [...own, ...defaults].sort(compareRules);
  return { [COMPILED]: true, id, default: fallback, rules, maxScanBytes, oversize };
}

/** Whether `value` is a policy compileGuardPolicy returned. */
export function isGuardPolicy(value: unknown): value is GuardPolicy {
  return typeof value === 'object' && value !== null && (value as { [COMPILED]?: unknown })[COMPILED] === true;
}

/** The policy entry deciding a detection (null: none matches, the policy's default applies). */
export function matchRule(policy: GuardPolicy, detection: ContentDetection): CompiledGuardRule | null {
  for (const rule of policy.rules) {
    if (rule.detector !== null && !rule.detector.test(detection.detector)) continue;
    if (rule.channels !== null && !rule.channels.has(detection.channel)) continue;
    if (detection.score < rule.minScore) continue;
    if (rule.rule !== null && !rule.rule.test(detection.rule)) continue;
    if (rule.kind !== null && !rule.kind.test(detection.kind)) continue;
    return rule;
  }
  return null;
}

/** Whether some verdict of `detector` on `channel` could get an action other than allow: if not, it need not run. */
export function canAct(policy: GuardPolicy, detector: string, channel: ContentChannel): boolean {
  if (policy.default !== 'allow') return true;
  return policy.rules.some(
    (rule) =>
      rule.action !== 'allow' &&
      (rule.detector === null || rule.detector.test(detector)) &&
      (rule.channels === null || rule.channels.has(channel)),
  );
}

function compileRule(raw: unknown, index: number, layer: number, path: string): CompiledGuardRule {
  if (!isRecord(raw)) throw new GuardPolicyError(`${path} must be an object, got ${typeName(raw)}`);
  for (const key of Object.keys(raw)) {
    if (!RULE_KEYS.has(key))
      throw new GuardPolicyError(`${path}.${key} is not an entry field (expected one of ${[...RULE_KEYS].join(', ')})`);
  }
  const decided = action(raw.action, `${path}.action`);
  const rule = glob(raw.rule, `${path}.rule`);
  const detector = glob(raw.detector, `${path}.detector`);
  const kind = glob(raw.kind, `${path}.kind`);
  let channels: Set<ContentChannel> | null = null;
  if (raw.channels !== undefined) {
    if (!Array.isArray(raw.channels) || raw.channels.length === 0)
      throw new GuardPolicyError(`${path}.channels must be a non-empty array of ${CONTENT_CHANNELS.join(', ')}`);
    channels = new Set();
    for (const [i, channel] of (raw.channels as unknown[]).entries()) {
      if (!(CONTENT_CHANNELS as readonly unknown[]).includes(channel))
        throw new GuardPolicyError(
          `${path}.channels[${i}] must be one of ${CONTENT_CHANNELS.join(', ')}, got ${JSON.stringify(channel)}`,
        );
      channels.add(channel as ContentChannel);
    }
  }
  let minScore = 0;
  if (raw.label !== undefined) {
    if (raw.label !== 'attack' && raw.label !== 'suspicious')
      throw new GuardPolicyError(`${path}.label must be "attack" or "suspicious", got ${JSON.stringify(raw.label)}`);
    if (detector !== null && detector.source !== '^injection$')
      throw new GuardPolicyError(`${path}.label applies to injection verdicts only: set "detector": "injection"`);
    minScore = LABEL_SCORE[raw.label];
  }
  if (raw.minScore !== undefined) {
    if (typeof raw.minScore !== 'number' || !(raw.minScore >= 0 && raw.minScore <= 1))
      throw new GuardPolicyError(`${path}.minScore must be a number in [0, 1], got ${JSON.stringify(raw.minScore)}`);
    minScore = Math.max(minScore, raw.minScore);
  }
  if (
    rule === null &&
    detector === null &&
    kind === null &&
    raw.label === undefined &&
    raw.minScore === undefined &&
    channels === null
  )
    throw new GuardPolicyError(
      `${path} selects nothing: give at least one of rule, detector, kind, channels, label, minScore (or use "default")`,
    );
  const onlyDetector = raw.label !== undefined ? 'injection' : null;
  return {
    id: optionalString(raw.id, `${path}.id`) ?? (layer === 1 ? `rules[${index}]` : `default[${index}]`),
    action: decided,
    layer,
    order: index,
    rule,
    detector: detector ?? (onlyDetector === null ? null : /^injection$/),
    kind,
    channels,
    minScore,
    onlyDetector,
    specificity: [
      layer,
      rule === null ? 0 : 1,
      literal(raw.rule),
      literal(raw.kind),
      literal(raw.detector) > 0 || onlyDetector !== null ? 1 : 0,
      channels === null ? 0 : 1,
      minScore,
    ],
  };
}

/** More specific first; among equals, the entry written first. */
function compareRules(a: CompiledGuardRule, b: CompiledGuardRule): number {
  for (let i = 0; i < a.specificity.length; i++) {
    const d = b.specificity[i]! - a.specificity[i]!;
    if (d !== 0) return d;
  }
  return a.order - b.order;
}

/** Characters of a pattern that are not wildcards: `inj.override.*` is more specific than `inj.*`. */
function literal(pattern: unknown): number {
  return typeof pattern === 'string' ? pattern.replaceAll('*', '').length : 0;
}

function glob(value: unknown, path: string): RegExp | null {
  if (value === undefined) return null;
  if (typeof value !== 'string' || !GLOB.test(value))
    throw new GuardPolicyError(
      `${path} must be an id pattern of letters, digits, '.', '_', ':', '-' and '*' wildcards (at most 128), got ${JSON.stringify(value)}`,
    );
  if (/^\*+$/.test(value)) return null;
  return new RegExp(`^${value.split('*').map(escape).join('.*')}$`);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function action(value: unknown, path: string): GuardAction {
  if (typeof value === 'string' && (GUARD_ACTIONS as readonly string[]).includes(value)) return value as GuardAction;
  throw new GuardPolicyError(`${path} must be one of ${GUARD_ACTIONS.join(', ')}, got ${JSON.stringify(value)}`);
}

function integer(value: unknown, path: string): number {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  throw new GuardPolicyError(`${path} must be an integer, got ${JSON.stringify(value)}`);
}

function optionalString(value: unknown, path: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && value.length > 0 && value.length <= 128) return value;
  throw new GuardPolicyError(`${path} must be a string of 1 to 128 characters, got ${JSON.stringify(value)}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}
