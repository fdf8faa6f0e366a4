import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AispmError, SEVERITIES, describeError, silentLogger, type Logger, type Severity } from '@aispm/core';
import { paramProblem } from './params.ts';
import { DEFAULT_DETECTORS } from './registry.ts';
import type { Detector, ParamSpec, Rule, RuleSet } from './types.ts';

/**
 * Behavioural rules are data: a versioned JSON pack (rules/behaviour/behaviour.v1.json)
 * with one entry per rule (id, detector, enabled, title, severity, confidence,
 * framework ids, params), and per-tenant overrides of `enabled`, `severity`,
 * `confidence` and `params` — in the pack's `tenants` section and/or in a separate
 * overrides file of the same shape (`{ "tenants": { ... } }`), which wins.
 *
 * Checked at load, every problem listed with where it is (`behaviour.v1.json: rule
 * shadow_ai.model: severity: must be one of ...`): every rule a detector raises is
 * in the pack, and nothing else is; each rule's params have exactly the names and
 * types its detector declares (Detector.rules); framework ids have their form.
 *
 * Compiled into one RuleSet per tenant with overrides, and one for every other tenant.
 * RulePackSource re-reads the files when they change, without a restart.
 */
export const RULES_DIR = join(import.meta.dirname, '../../../../rules');
export const DEFAULT_BEHAVIOUR_PACK = join(RULES_DIR, 'behaviour/behaviour.v1.json');

export class BehaviourPackError extends AispmError {
  readonly problems: string[];

  constructor(file: string, problems: string[]) {
    super('rule_pack_invalid', `behaviour rule pack ${file} is invalid:\n  ${problems.join('\n  ')}`);
    this.name = 'BehaviourPackError';
    this.problems = problems;
  }
}

/** The rules the baseline's own findings use (findings/from-score.ts): metadata only, no params. */
export const BASELINE_RULES: Readonly<Record<string, ParamSpec>> = {
  behaviour_anomaly: {},
  behaviour_drift: {},
};
export const BASELINE_DETECTOR = 'baseline';

/** Which detector raises each rule, and the params it reads. */
export type RuleCatalogue = ReadonlyMap<string, { detector: string; params: ParamSpec }>;

export function ruleCatalogue(detectors: readonly Detector[] = DEFAULT_DETECTORS): RuleCatalogue {
  const catalogue = new Map<string, { detector: string; params: ParamSpec }>();
  for (const [id, params] of Object.entries(BASELINE_RULES)) catalogue.set(id, { detector: BASELINE_DETECTOR, params });
  for (const detector of detectors)
    for (const [id, params] of Object.entries(detector.rules)) {
      const other = catalogue.get(id);
      if (other) throw new Error(`rule ${id} is raised by two detectors: ${other.detector} and ${detector.id}`);
      catalogue.set(id, { detector: detector.id, params });
    }
  return catalogue;
}

/** What a tenant may change of a rule. */
export interface RuleOverride {
  enabled?: boolean;
  severity?: Severity;
  confidence?: number;
  /** Some of the rule's params; each replaces the pack's value whole. */
  params?: Record<string, unknown>;
}

/** tenant → rule id → override. */
export type TenantOverrides = Record<string, Record<string, RuleOverride>>;

/** A pack as read and checked, before compiling per tenant. */
export interface BehaviourPack {
  pack: string;
  version: number;
  file: string;
  rules: Rule[];
  tenants: TenantOverrides;
}

/** The rules in force: one RuleSet per tenant. */
export interface CompiledRules {
  /** `<pack>/<version>` (finding.model). */
  readonly version: string;
  readonly file: string;
  forTenant(tenant: string): RuleSet;
  /** Tenants with overrides. */
  readonly tenants: readonly string[];
}

const RULE_ID = /^[a-z0-9_]+(?:\.[a-z0-9_-]+)*$/;
const OWASP_LLM = /^LLM(?:0[1-9]|10):2025$/;
const OWASP_AGENTIC = /^ASI(?:0[1-9]|10)$/;
const ATLAS = /^AML\.T\d{4}(?:\.\d{3})?$/;
const RULE_KEYS = [
  'id',
  'detector',
  'enabled',
  'title',
  'description',
  'severity',
  'confidence',
  'owasp_llm',
  'owasp_agentic',
  'mitre_atlas',
  'params',
];
const OVERRIDE_KEYS = ['enabled', 'severity', 'confidence', 'params'];
/** Tenants with overrides, at most; rules per tenant are bounded by the pack. */
export const MAX_OVERRIDE_TENANTS = 10_000;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (xs: readonly string[]): string => xs.join(', ');

/** Checks a parsed pack; throws BehaviourPackError listing every problem. */
export function parseBehaviourPack(
  raw: unknown,
  file: string,
  catalogue: RuleCatalogue = ruleCatalogue(),
): BehaviourPack {
  const problems: string[] = [];
  if (!isObject(raw)) throw new BehaviourPackError(file, ['the file must hold a JSON object']);
  for (const key of Object.keys(raw))
    if (!['pack', 'version', 'description', 'rules', 'tenants'].includes(key))
      problems.push(`${key}: unknown field (expected pack, version, description, rules, tenants)`);
  if (typeof raw.pack !== 'string' || !/^[a-z0-9_-]+$/.test(raw.pack))
    problems.push('pack: must be a name of lower-case letters, digits, `_` or `-`');
  if (!Number.isInteger(raw.version) || (raw.version as number) < 1) problems.push('version: must be an integer ≥ 1');

  const rules: Rule[] = [];
  const seen = new Set<string>();
  if (!Array.isArray(raw.rules)) problems.push('rules: must be a list of rules');
  else
    raw.rules.forEach((entry, i) => {
      const id = isObject(entry) && typeof entry.id === 'string' ? entry.id : null;
      if (id !== null && seen.has(id)) problems.push(`rule ${id}: defined twice`);
      const rule = parseRule(entry, i, catalogue, problems);
      // A rule with problems still counts as present: its problems are reported, not a missing entry.
      if (id !== null) seen.add(id);
      if (rule) rules.push(rule);
    });
  if (Array.isArray(raw.rules))
    for (const [id, { detector }] of catalogue)
      if (!seen.has(id))
        problems.push(`rule ${id}: missing; detector ${detector} raises it, so the pack needs an entry`);

  const tenants = raw.tenants === undefined ? {} : parseTenants(raw.tenants, catalogue, problems);
  if (problems.length > 0) throw new BehaviourPackError(file, problems);
  return { pack: raw.pack as string, version: raw.version as number, file, rules, tenants };
}

function parseRule(entry: unknown, index: number, catalogue: RuleCatalogue, problems: string[]): Rule | null {
  if (!isObject(entry)) {
    problems.push(`rules[${index}]: must be an object`);
    return null;
  }
  const id = typeof entry.id === 'string' ? entry.id : '';
  if (!RULE_ID.test(id)) {
    problems.push(`rules[${index}]: id: must be lower-case words joined by dots, e.g. "shadow_ai.model"`);
    return null;
  }
  const where = `rule ${id}`;
  const before = problems.length;
  for (const key of Object.keys(entry))
    if (!RULE_KEYS.includes(key)) problems.push(`${where}: ${key}: unknown field (expected ${list(RULE_KEYS)})`);
  const known = catalogue.get(id);
  if (!known) {
    const ids = [...catalogue.keys()].filter((k) => k.split('.')[0] === id.split('.')[0]);
    problems.push(
      `${where}: no detector raises this rule${ids.length > 0 ? ` (rules of that family: ${list(ids)})` : ''}`,
    );
  } else if (entry.detector !== known.detector)
    problems.push(`${where}: detector: must be "${known.detector}" (got ${JSON.stringify(entry.detector)})`);
  if (typeof entry.enabled !== 'boolean') problems.push(`${where}: enabled: must be true or false`);
  if (typeof entry.title !== 'string' || entry.title.length < 3 || entry.title.length > 200)
    problems.push(`${where}: title: must be a string of 3–200 characters`);
  if (entry.description !== undefined && typeof entry.description !== 'string')
    problems.push(`${where}: description: must be a string`);
  checkSeverity(entry.severity, `${where}: severity`, problems);
  checkConfidence(entry.confidence, `${where}: confidence`, problems);
  const frameworks = {
    owasp_llm: ids(entry.owasp_llm, OWASP_LLM, `${where}: owasp_llm`, 'LLM06:2025', true, problems),
    owasp_agentic: ids(entry.owasp_agentic, OWASP_AGENTIC, `${where}: owasp_agentic`, 'ASI02', false, problems),
    mitre_atlas: ids(entry.mitre_atlas, ATLAS, `${where}: mitre_atlas`, 'AML.T0053', true, problems),
  };
  if (!isObject(entry.params)) problems.push(`${where}: params: must be an object (may be empty)`);
  else if (known) checkParams(entry.params, known.params, where, true, problems);
  if (problems.length > before || !known) return null;
  return {
    id,
    detector: known.detector,
    enabled: entry.enabled as boolean,
    title: entry.title as string,
    severity: entry.severity as Severity,
    confidence: entry.confidence as number,
    ...frameworks,
    params: entry.params as Record<string, unknown>,
  };
}

function checkSeverity(value: unknown, where: string, problems: string[]): void {
  if (!SEVERITIES.includes(value as Severity))
    problems.push(`${where}: must be one of ${list(SEVERITIES)} (got ${JSON.stringify(value)})`);
}

function checkConfidence(value: unknown, where: string, problems: string[]): void {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) problems.push(`${where}: must be a number in [0, 1]`);
}

function ids(
  value: unknown,
  form: RegExp,
  where: string,
  example: string,
  required: boolean,
  problems: string[],
): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || !form.test(v))) {
    problems.push(`${where}: must be a list of ids like "${example}"`);
    return [];
  }
  if (required && value.length === 0) problems.push(`${where}: needs at least one id, e.g. "${example}"`);
  return value as string[];
}

function checkParams(
  params: Record<string, unknown>,
  spec: ParamSpec,
  where: string,
  complete: boolean,
  problems: string[],
): void {
  const declared = Object.keys(spec);
  for (const [name, value] of Object.entries(params)) {
    const type = spec[name];
    if (type === undefined) {
      problems.push(
        `${where}: params.${name}: unknown param (${declared.length > 0 ? `expected ${list(declared)}` : 'this rule takes none'})`,
      );
      continue;
    }
    const problem = paramProblem(type, value);
    if (problem) problems.push(`${where}: params.${name}: ${problem}`);
  }
  if (complete)
    for (const name of declared)
      if (!(name in params)) problems.push(`${where}: params.${name}: missing (${spec[name]})`);
}

function parseTenants(raw: unknown, catalogue: RuleCatalogue, problems: string[]): TenantOverrides {
  const tenants: TenantOverrides = {};
  if (!isObject(raw)) {
    problems.push('tenants: must be an object of tenant → rule id → override');
    return tenants;
  }
  const entries = Object.entries(raw);
  if (entries.length > MAX_OVERRIDE_TENANTS) problems.push(`tenants: at most ${MAX_OVERRIDE_TENANTS} tenants`);
  for (const [tenant, rules] of entries) {
    if (tenant === '') problems.push('tenants: a tenant name must not be empty');
    if (!isObject(rules)) {
      problems.push(`tenant ${tenant}: must be an object of rule id → override`);
      continue;
    }
    const out: Record<string, RuleOverride> = {};
    for (const [id, override] of Object.entries(rules)) {
      const where = `tenant ${tenant}: rule ${id}`;
      const known = catalogue.get(id);
      if (!known) {
        problems.push(`${where}: no such rule in the pack`);
        continue;
      }
      if (!isObject(override)) {
        problems.push(`${where}: must be an object with ${list(OVERRIDE_KEYS)}`);
        continue;
      }
      for (const key of Object.keys(override))
        if (!OVERRIDE_KEYS.includes(key))
          problems.push(`${where}: ${key}: cannot be overridden (only ${list(OVERRIDE_KEYS)})`);
      if (override.enabled !== undefined && typeof override.enabled !== 'boolean')
        problems.push(`${where}: enabled: must be true or false`);
      if (override.severity !== undefined) checkSeverity(override.severity, `${where}: severity`, problems);
      if (override.confidence !== undefined) checkConfidence(override.confidence, `${where}: confidence`, problems);
      if (override.params !== undefined) {
        if (!isObject(override.params)) problems.push(`${where}: params: must be an object`);
        else checkParams(override.params, known.params, where, false, problems);
      }
      out[id] = override;
    }
    tenants[tenant] = out;
  }
  return tenants;
}

class CompiledRuleSet implements RuleSet {
  readonly version: string;
  private readonly rules: ReadonlyMap<string, Rule>;

  constructor(version: string, rules: ReadonlyMap<string, Rule>) {
    this.version = version;
    this.rules = rules;
  }

  get(id: string): Rule | undefined {
    return this.rules.get(id);
  }
}

/** A pack's rules with one tenant's overrides applied; overrides later in `layers` win, field by field and param by param. */
function applyOverrides(rules: readonly Rule[], layers: readonly (Record<string, RuleOverride> | undefined)[]): Rule[] {
  return rules.map((rule) => {
    let out = rule;
    for (const layer of layers) {
      const o = layer?.[rule.id];
      if (!o) continue;
      out = {
        ...out,
        enabled: o.enabled ?? out.enabled,
        severity: o.severity ?? out.severity,
        confidence: o.confidence ?? out.confidence,
        params: o.params ? { ...out.params, ...o.params } : out.params,
      };
    }
    return Object.freeze(out);
  });
}

/** Compiles a pack and extra overrides (an overrides file's `tenants`) into rule sets per tenant. */
export function compileRules(pack: BehaviourPack, extra: TenantOverrides = {}): CompiledRules {
  const version = `${pack.pack}/${pack.version}`;
  const toSet = (rules: readonly Rule[]): RuleSet => new CompiledRuleSet(version, new Map(rules.map((r) => [r.id, r])));
  const defaults = toSet(applyOverrides(pack.rules, []));
  const byTenant = new Map<string, RuleSet>();
  for (const tenant of new Set([...Object.keys(pack.tenants), ...Object.keys(extra)]))
    byTenant.set(tenant, toSet(applyOverrides(pack.rules, [pack.tenants[tenant], extra[tenant]])));
  return {
    version,
    file: pack.file,
    tenants: [...byTenant.keys()],
    forTenant: (tenant) => byTenant.get(tenant) ?? defaults,
  };
}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new BehaviourPackError(file, [`cannot read the ${what}: ${describeError(err)}`]);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BehaviourPackError(file, [`not valid JSON: ${describeError(err)}`]);
  }
}

/** Checks an overrides file (`{ "tenants": { tenant: { rule id: override } } }`). */
export function parseOverrides(
  raw: unknown,
  file: string,
  catalogue: RuleCatalogue = ruleCatalogue(),
): TenantOverrides {
  const problems: string[] = [];
  if (!isObject(raw)) throw new BehaviourPackError(file, ['the file must hold a JSON object with "tenants"']);
  for (const key of Object.keys(raw))
    if (key !== 'tenants' && key !== 'description') problems.push(`${key}: unknown field (expected tenants)`);
  const tenants = raw.tenants === undefined ? {} : parseTenants(raw.tenants, catalogue, problems);
  if (problems.length > 0) throw new BehaviourPackError(file, problems);
  return tenants;
}

export interface LoadRulesOptions {
  /** A file of per-tenant overrides, applied over the pack's own `tenants` section. */
  overridesFile?: string;
  /** The detectors whose rules the pack must hold (default: all of them). */
  detectors?: readonly Detector[];
}

/** Reads, checks and compiles a behaviour pack (and an overrides file); throws BehaviourPackError. */
export function loadRules(file: string = DEFAULT_BEHAVIOUR_PACK, options: LoadRulesOptions = {}): CompiledRules {
  const catalogue = ruleCatalogue(options.detectors);
  const pack = parseBehaviourPack(readJson(file, 'rule pack'), file, catalogue);
  const extra = options.overridesFile
    ? parseOverrides(readJson(options.overridesFile, 'overrides file'), options.overridesFile, catalogue)
    : {};
  return compileRules(pack, extra);
}

export interface RulePackSourceOptions extends LoadRulesOptions {
  /** The pack file (default rules/behaviour/behaviour.v1.json). */
  file?: string;
  /** How often, at most, current() looks at the files' modification times. Default 10 s. */
  checkEverySeconds?: number;
  logger?: Logger;
  /** Clock for the check interval (tests). */
  now?: () => number;
}

/**
 * The rules in force, re-read when the pack or overrides file changes: current()
 * looks at the files' modification time, size and inode at most every
 * `checkEverySeconds` (a stat per file, no read when unchanged). A changed file
 * that fails to read or check is rejected with a logged error naming every
 * problem, and the previous rules stay in force until a good version appears.
 * The constructor loads synchronously and throws on a bad file: start-up stops.
 */
export class RulePackSource {
  private rules: CompiledRules;
  private signature: string;
  /** Signature of the last version rejected, so a bad file is reported once, not at every check. */
  private rejected: string | null = null;
  private nextCheck: number;
  private readonly file: string;
  private readonly everyMs: number;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly options: LoadRulesOptions;
  /** Versions taken into force after the first, and versions rejected. */
  reloads = 0;
  failures = 0;

  constructor(options: RulePackSourceOptions = {}) {
    this.file = options.file ?? DEFAULT_BEHAVIOUR_PACK;
    this.everyMs = (options.checkEverySeconds ?? 10) * 1000;
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
    this.options = { overridesFile: options.overridesFile, detectors: options.detectors };
    // Signed before reading, so a change made meanwhile is seen at the next check; a missing file is reported by loadRules.
    this.signature = this.trySign();
    this.rules = loadRules(this.file, this.options);
    this.nextCheck = this.now() + this.everyMs;
  }

  /** The rules in force (re-read first if the files changed and a check is due). */
  current(): CompiledRules {
    if (this.now() >= this.nextCheck) this.check();
    return this.rules;
  }

  /** Looks at the files now; true when a new version went into force. */
  check(): boolean {
    this.nextCheck = this.now() + this.everyMs;
    let signature: string;
    try {
      signature = this.sign();
    } catch (err) {
      const why = describeError(err);
      if (this.rejected !== why) {
        this.rejected = why;
        this.failures++;
        this.logger.error('behaviour rule pack cannot be read; the previous rules stay in force', { error: why });
      }
      return false;
    }
    if (signature === this.signature || signature === this.rejected) return false;
    try {
      this.rules = loadRules(this.file, this.options);
    } catch (err) {
      this.rejected = signature;
      this.failures++;
      this.logger.error('behaviour rule pack rejected; the previous rules stay in force', {
        file: this.file,
        version: this.rules.version,
        error: describeError(err),
      });
      return false;
    }
    this.signature = signature;
    this.rejected = null;
    this.reloads++;
    this.logger.info('behaviour rule pack reloaded', { file: this.file, version: this.rules.version });
    return true;
  }

  private trySign(): string {
    try {
      return this.sign();
    } catch {
      return '';
    }
  }

  private sign(): string {
    const files = [this.file, ...(this.options.overridesFile ? [this.options.overridesFile] : [])];
    return files
      .map((f) => {
        const s = statSync(f);
        return `${s.mtimeMs}:${s.size}:${s.ino}`;
      })
      .join('|');
  }
}

/** Whether `rules` is a source to ask for the current rules, or rules already compiled. */
export const isRulePackSource = (rules: RulePackSource | CompiledRules): rules is RulePackSource =>
  rules instanceof RulePackSource;
