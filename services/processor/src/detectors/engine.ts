import {
  describeError,
  findingId,
  MAX_EVENT_IDS,
  redact,
  silentLogger,
  type AiEvent,
  type Finding,
  type Logger,
} from '@aispm/core';
import type { EntityView } from '../baseline/view.ts';
import { EMPTY_POLICY } from './policy.ts';
import { DEFAULT_DETECTORS } from './registry.ts';
import { isRulePackSource, type CompiledRules, type RulePackSource } from './rule-pack.ts';
import type { Detection, Detector, DetectorInput, InventoryPolicy, Rule, RuleSet } from './types.ts';

/**
 * A Finding with its OWASP Agentic ids. The lead is adding `owasp_agentic` to the
 * Finding contract; until then this is the type the engine produces (and
 * afterwards it is the same as Finding).
 */
export type BehaviourFinding = Finding & { owasp_agentic: string[] };

/** Evidence lines per finding, at most, and characters per line. */
export const MAX_EVIDENCE = 8;
export const MAX_EVIDENCE_LENGTH = 300;

export interface DetectionEngineOptions {
  /** Default: every detector (registry.ts). */
  detectors?: readonly Detector[];
  /** A source that reloads the pack when it changes, or rules compiled once. */
  rules: RulePackSource | CompiledRules;
  /** The inventory policy, or a function giving the one in force. Default: EMPTY_POLICY. */
  policy?: InventoryPolicy | (() => InventoryPolicy);
  logger?: Logger;
}

/** What run() needs: the event, its entity and its measurement (rules and policy come from the engine). */
export type EngineInput = Omit<DetectorInput, 'rules' | 'policy'>;

/** Per key: detector id → memo. JSON-serialisable; checkpoint it with the key's baseline. */
export type DetectorMemos = Record<string, unknown>;

export interface DetectionEngine {
  /**
   * Runs every detector on one event, in order, against the tenant's rules.
   * `memos` is the key's: a detector's memo is created when absent (or replaced
   * when it has another shape, e.g. from an older version) and updated in place.
   * Detections of rules that are disabled or not in the pack are dropped; a
   * detector whose rules are all disabled is not run. A detector that throws is
   * logged and skipped for that event (its memo may be partly updated).
   */
  run(input: EngineInput, memos: DetectorMemos): Detection[];
  /** The finding a detection makes (see toFinding). */
  toFinding(detection: Detection, rule: Rule, event: AiEvent, view: EntityView): BehaviourFinding;
  /** run() and toFinding() for each detection. */
  findings(input: EngineInput, memos: DetectorMemos): BehaviourFinding[];
  /** The tenant's rules in force now. */
  rulesFor(tenant: string): RuleSet;
  /** Detector failures so far (each also logged). */
  readonly failures: number;
}

export function createDetectionEngine(options: DetectionEngineOptions): DetectionEngine {
  const detectors = options.detectors ?? DEFAULT_DETECTORS;
  const logger = options.logger ?? silentLogger;
  const source = options.rules;
  const policyOption = options.policy ?? EMPTY_POLICY;
  const policyOf = typeof policyOption === 'function' ? policyOption : () => policyOption;
  const compiled = (): CompiledRules => (isRulePackSource(source) ? source.current() : source);
  let failures = 0;
  const ruleIds = new Map(detectors.map((d) => [d, Object.keys(d.rules)]));
  // The detectors with a rule enabled, per rule set (one per pack version and tenant): asked on every event.
  const activeIn = new WeakMap<RuleSet, readonly Detector[]>();
  const active = (rules: RuleSet): readonly Detector[] => {
    let list = activeIn.get(rules);
    if (list === undefined) {
      list = detectors.filter((d) => ruleIds.get(d)!.some((id) => rules.get(id)?.enabled));
      activeIn.set(rules, list);
    }
    return list;
  };

  const rulesFor = (tenant: string): RuleSet => compiled().forTenant(tenant);

  function run(input: EngineInput, memos: DetectorMemos): Detection[] {
    const rules = rulesFor(input.event.tenant);
    const full: DetectorInput = { ...input, rules, policy: policyOf() };
    const out: Detection[] = [];
    for (const detector of active(rules)) {
      let memo = memos[detector.id];
      if (!(detector.id in memos) || (detector.accepts && !detector.accepts(memo))) {
        memo = detector.initial();
        memos[detector.id] = memo;
      }
      let found: Detection[];
      try {
        found = detector.detect(full, memo);
      } catch (err) {
        failures++;
        logger.error('behavioural detector failed on an event; skipped', {
          detector: detector.id,
          event_id: input.event.event_id,
          error: describeError(err),
        });
        continue;
      }
      for (const d of found) if (rules.get(d.rule)?.enabled) out.push(d);
    }
    return out;
  }

  return {
    run,
    rulesFor,
    toFinding: (detection, rule, event, view) => toFinding(detection, rule, event, view, compiled().version),
    findings(input, memos) {
      const rules = rulesFor(input.event.tenant);
      const version = compiled().version;
      return run(input, memos).map((d) => toFinding(d, rules.get(d.rule)!, input.event, input.view, version));
    },
    get failures() {
      return failures;
    },
  };
}

/**
 * The Finding of a detection: type = the rule's detector, rule = the rule id; id
 * = findingId(tenant, detector, asset, key evidence), so the same problem on the
 * same asset is one finding across events, rules of one detector, restarts and
 * processes. Severity, title and score from the detection when it says, else the
 * rule; framework ids from the rule; evidence redacted and bounded; one
 * occurrence at the event's time.
 */
export function toFinding(
  detection: Detection,
  rule: Rule,
  event: Pick<AiEvent, 'tenant' | 'event_id' | 'time'>,
  view: EntityView,
  model: string,
): BehaviourFinding {
  const asset = detection.asset?.key ?? view.key;
  return {
    id: findingId(event.tenant, findingType(rule), asset, detection.key_evidence),
    tenant: event.tenant,
    asset,
    asset_type: detection.asset?.type ?? view.entity,
    type: findingType(rule),
    rule: rule.id,
    severity: detection.severity ?? rule.severity,
    score: Math.min(1, Math.max(0, Number.isFinite(detection.score) ? detection.score : 0)),
    title: clean(detection.title ?? rule.title),
    evidence: detection.evidence.slice(0, MAX_EVIDENCE).map(clean),
    event_ids: [...new Set([event.event_id, ...(detection.event_ids ?? [])])].slice(0, MAX_EVENT_IDS),
    first_seen: event.time,
    last_seen: event.time,
    occurrences: 1,
    status: 'open',
    owasp_llm: [...rule.owasp_llm],
    owasp_agentic: [...rule.owasp_agentic],
    mitre_atlas: [...rule.mitre_atlas],
    model,
  };
}

/**
 * A finding's type: its detector's id; for the content detector, which turns the
 * verdicts of several content detectors into findings, the family its rule names
 * (`prompt_injection`, `sensitive_data`, `guardrail`), which is what an analyst filters on.
 */
export function findingType(rule: Pick<Rule, 'id' | 'detector'>): string {
  if (rule.detector !== 'content') return rule.detector;
  const dot = rule.id.indexOf('.');
  return dot > 0 ? rule.id.slice(0, dot) : rule.detector;
}

/** Redacted, then cut: a cut first could leave part of a secret its pattern no longer sees. The input is capped for cost. */
const clean = (text: string): string =>
  redact(text.slice(0, 16 * MAX_EVIDENCE_LENGTH))
    .text.slice(0, MAX_EVIDENCE_LENGTH)
    .toWellFormed();
