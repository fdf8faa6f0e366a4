import { truncateUtf8 } from '../../content/truncate.ts';
import { placeholder, PII_KINDS, SECRET_KINDS, type RedactionKind } from '../../content/redaction-rules.ts';
import { createInjectionDetector } from '../detect.ts';
import { injectionTextDetector, strongestFirst, type TextDetector } from '../scanner.ts';
import type { ContentChannel, InjectionVerdict } from '../types.ts';
import { CONTENT_CHANNELS } from '../types.ts';
import { MAX_EVENT_DETECTIONS, type ContentDetection } from '../verdict.ts';
import {
  ACTION_RANK,
  canAct,
  compileGuardPolicy,
  isGuardPolicy,
  loadGuardPolicy,
  matchRule,
  type GuardAction,
  type GuardPolicy,
  type GuardPolicyInput,
} from './policy.ts';
import { sensitiveTextDetector } from './sensitive.ts';

export interface CreateGuardOptions {
  /** A compiled policy, a policy object, or the path of a JSON policy file (default: the built-in rules only). */
  policy?: GuardPolicy | GuardPolicyInput | string;
  /**
   * The text detectors (default: prompt injection with the shipped rule pack and model, and PII/secrets).
   * A detector is run on a channel only when the policy could act on what it finds there.
   */
  detectors?: readonly TextDetector[];
}

/** What the guard decided for one text. */
export interface GuardResult {
  /** The strongest action of its detections: block > redact > allow. */
  action: GuardAction;
  /** The text to send on: the input itself, or with every stretch the policy redacts replaced by its placeholder. */
  text: string;
  /**
   * The verdicts, strongest first, at most MAX_EVENT_DETECTIONS: when the action is not allow, the first is the
   * guard's own (detector `guardrail`, `rule` the deciding policy entry, `via` the action), then the detectors'.
   */
  detections: ContentDetection[];
  /** The id of the policy entry that decided (`default` for the policy's default action), or null when allowed. */
  rule: string | null;
  /** True when only the first maxScanBytes of the text were scanned. */
  truncated: boolean;
}

export interface Guard {
  readonly policy: GuardPolicy;
  /** Scans one text that entered on `channel` and decides; pure apart from the detectors it runs. */
  check(text: string, channel: ContentChannel): GuardResult;
}

const SECRET_OR_PII: ReadonlySet<string> = new Set<string>([...PII_KINDS, ...SECRET_KINDS]);

/**
 * A guard: the content detectors and a policy saying, per rule id or detector and
 * kind, what a verdict does to the text (allow, redact, block). Meant for the
 * request path of an app: detectors the policy cannot act on are not run, each
 * text is scanned up to maxScanBytes, and the detectors load once, here.
 */
export function createGuard(options: CreateGuardOptions = {}): Guard {
  const policy = resolvePolicy(options.policy);
  const detectors = options.detectors ? [...options.detectors] : defaultDetectors(policy);
  const byChannel = new Map<ContentChannel, TextDetector[]>();
  for (const channel of CONTENT_CHANNELS) {
    byChannel.set(
      channel,
      detectors.filter((d) => canAct(policy, d.id, channel)),
    );
  }
  return {
    policy,
    check(text, channel) {
      const run = byChannel.get(channel) ?? [];
      const scanned = truncateUtf8(text, policy.maxScanBytes);
      const truncated = scanned.length < text.length;
      if (truncated && policy.oversize === 'block') return oversized(text, scanned, channel);
      if (scanned.length === 0 || run.length === 0) return allowed(text, [], truncated);
      const found: ContentDetection[] = [];
      for (const detector of run) for (const detection of detector.detect(scanned, channel)) found.push(detection);
      if (found.length === 0) return allowed(text, found, truncated);
      let action: GuardAction = 'allow';
      let decisive: ContentDetection | null = null;
      let rule: string | null = null;
      const redactions: ContentDetection[] = [];
      for (const detection of found) {
        const entry = matchRule(policy, detection);
        const act = entry?.action ?? policy.default;
        if (act === 'redact') redactions.push(detection);
        if (act === 'allow') continue;
        if (ACTION_RANK[act] > ACTION_RANK[action] || (act === action && stronger(detection, decisive))) {
          action = act;
          decisive = detection;
          rule = entry?.id ?? 'default';
        }
      }
      const detections = strongestFirst(found);
      if (decisive === null || rule === null) return allowed(text, detections, truncated);
      const own: ContentDetection = { ...decisive, detector: 'guardrail', rule, via: action };
      return {
        action,
        text: action === 'redact' ? redactText(text, scanned.length, redactions) : text,
        detections: [own, ...detections].slice(0, MAX_EVENT_DETECTIONS),
        rule,
        truncated,
      };
    },
  };
}

const SEVERITY_RANK: Readonly<Record<string, number>> = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };

/** Which of two detections with the same action decides: higher score, then severity, then a rule over the model. */
function stronger(a: ContentDetection, b: ContentDetection | null): boolean {
  if (b === null) return true;
  if (a.score !== b.score) return a.score > b.score;
  const severity = (SEVERITY_RANK[a.severity] ?? 0) - (SEVERITY_RANK[b.severity] ?? 0);
  if (severity !== 0) return severity > 0;
  return b.rule === 'model' && a.rule !== 'model';
}

function resolvePolicy(policy: CreateGuardOptions['policy']): GuardPolicy {
  if (typeof policy === 'string') return loadGuardPolicy(policy);
  if (isGuardPolicy(policy)) return policy;
  return compileGuardPolicy(policy ?? {});
}

function defaultDetectors(policy: GuardPolicy): TextDetector[] {
  const detectors: TextDetector[] = [];
  // The injection detector reads its rule pack and model: only when the policy can act on its verdicts somewhere.
  if (CONTENT_CHANNELS.some((channel) => canAct(policy, 'injection', channel))) {
    const injection = createInjectionDetector();
    detectors.push(
      injectionTextDetector({
        ...injection,
        detect: (text: string, channel?: ContentChannel): InjectionVerdict =>
          injection.detect(text, channel, { maxBytes: policy.maxScanBytes }),
      }),
    );
  }
  detectors.push(sensitiveTextDetector());
  return detectors;
}

function allowed(text: string, detections: ContentDetection[], truncated: boolean): GuardResult {
  return { action: 'allow', text, detections: strongestFirst(detections), rule: null, truncated };
}

function oversized(text: string, scanned: string, channel: ContentChannel): GuardResult {
  const detection: ContentDetection = {
    detector: 'guardrail',
    rule: 'oversize',
    kind: 'oversize',
    channel,
    score: 1,
    severity: 'medium',
    excerpt: `text of ${Buffer.byteLength(text)} bytes, over the ${Buffer.byteLength(scanned)} the guard scans`.slice(
      0,
      120,
    ),
    start: scanned.length,
    end: text.length,
    via: 'block',
  };
  return { action: 'block', text, detections: [detection], rule: 'oversize', truncated: true };
}

/** The text with each redacted stretch (in its scanned head) replaced by its placeholder; overlaps merge. */
function redactText(text: string, scannedLength: number, redactions: ContentDetection[]): string {
  const sorted = redactions
    .filter((d) => d.end > d.start && d.start < scannedLength)
    .sort((a, b) => a.start - b.start || b.end - a.end);
  const out: string[] = [];
  let kept = 0;
  for (const detection of sorted) {
    const end = Math.min(detection.end, scannedLength);
    if (end <= kept) continue;
    const start = Math.max(detection.start, kept);
    out.push(text.slice(kept, start), start === detection.start ? mask(detection) : '');
    kept = end;
  }
  out.push(text.slice(kept));
  return out.join('');
}

function mask(detection: ContentDetection): string {
  return SECRET_OR_PII.has(detection.kind)
    ? placeholder(detection.kind as RedactionKind)
    : `[REDACTED:${detection.detector === 'injection' ? 'injection' : detection.kind}]`;
}
