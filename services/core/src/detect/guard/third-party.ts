import { redact } from '../../content/redact.ts';
import type { Severity } from '../../finding/finding.ts';
import { CONTENT_CHANNELS, type ContentChannel } from '../types.ts';
import { CONTENT_DETECTORS, MAX_EVENT_DETECTIONS, type ContentDetection } from '../verdict.ts';

/**
 * Guardrail verdicts other libraries (and aispm's shim) put on spans, as
 * ContentDetections (detector `guardrail`, `via` the action taken). Pure: reads
 * the span's attributes and, when given, its events; never copies content into an
 * excerpt (what goes there is a label or a reason, redacted and bounded).
 *
 * Spans it reads (anything else gives no detection):
 * - aispm's shim: `aispm.guard.detections` (JSON, the guard's own and its detectors'
 *   verdicts), on model and tool spans;
 * - the OpenTelemetry GenAI guardrail proposal (semantic-conventions-genai PR #427,
 *   `run_guardrail` spans and the `gen_ai.guardrail.security.finding` event):
 *   `gen_ai.guardrail.verdict.type`, `gen_ai.guardrail.action.type`,
 *   `gen_ai.guardrail.target.*`, `gen_ai.guardrail.security.*`;
 * - OpenLLMetry (Traceloop SDK guardrails): `gen_ai.guardrail.name`,
 *   `gen_ai.guardrail.status` = FAILED on `guardrail.run` / `guard` spans;
 * - OpenLIT guards: `guard.verdict` (`yes`: detected), `guard.score`,
 *   `guard.classification`, `guard.validator`, `guard.explanation`, and the newer
 *   `guard.name`, `guard.action`, `guard.phase`, on the span or its
 *   `guard.evaluation` events;
 * - OpenInference: `openinference.span.kind` = GUARDRAIL, failed when its
 *   `output.value` says so (Guardrails AI validators: `fail`, with
 *   `validator_name` and `validator_on_fail`).
 */
export interface GuardrailSpan {
  name: string;
  attributes: Record<string, unknown>;
  events?: readonly { name: string; attributes?: Record<string, unknown> }[];
  /** The span's status code when known (OTLP: 2 is ERROR). */
  status?: { code: number };
}

/** The shim's attribute holding its guard's verdicts (JSON array of ContentDetection). */
export const AISPM_GUARD_DETECTIONS = 'aispm.guard.detections';

/** The attributes of the OpenTelemetry GenAI guardrail proposal (semantic-conventions-genai PR #427). */
export const GEN_AI_GUARDRAIL = {
  operation: 'run_guardrail',
  componentName: 'gen_ai.guardrail.component.name',
  targetType: 'gen_ai.guardrail.target.type',
  targetSubtype: 'gen_ai.guardrail.target.subtype',
  targetId: 'gen_ai.guardrail.target.id',
  verdictType: 'gen_ai.guardrail.verdict.type',
  verdictReason: 'gen_ai.guardrail.verdict.reason',
  verdictCode: 'gen_ai.guardrail.verdict.code',
  actionType: 'gen_ai.guardrail.action.type',
  policyId: 'gen_ai.guardrail.security.policy.id',
  policyRuleId: 'gen_ai.guardrail.security.policy.rule.id',
  riskCategory: 'gen_ai.guardrail.security.risk.category',
  riskScore: 'gen_ai.guardrail.security.risk.score',
  contentModified: 'gen_ai.guardrail.security.content.modified',
  findingEvent: 'gen_ai.guardrail.security.finding',
} as const;

const MAX_EXCERPT = 120;
/** Characters of a reason or explanation read at most (before redaction). */
const MAX_REASON = 1024;

/** Whether a span carries a guardrail verdict this module reads (a cheap test before guardrailDetections). */
export function isGuardrailSpan(span: GuardrailSpan): boolean {
  const a = span.attributes;
  return (
    a[AISPM_GUARD_DETECTIONS] !== undefined ||
    a[GEN_AI_GUARDRAIL.verdictType] !== undefined ||
    a[GEN_AI_GUARDRAIL.actionType] !== undefined ||
    a['gen_ai.guardrail.status'] !== undefined ||
    a['guard.verdict'] !== undefined ||
    a['guard.action'] !== undefined ||
    a['openinference.span.kind'] === 'GUARDRAIL' ||
    (span.events ?? []).some((e) => e.name === 'guard.evaluation' || e.name === GEN_AI_GUARDRAIL.findingEvent)
  );
}

/** The guardrail verdicts on one span, strongest first, at most MAX_EVENT_DETECTIONS; [] when it has none. */
export function guardrailDetections(span: GuardrailSpan): ContentDetection[] {
  const a = span.attributes;
  const found: ContentDetection[] = [];
  const own = ownDetections(a[AISPM_GUARD_DETECTIONS]);
  if (own !== null) found.push(...own);
  // The proposal's attributes: from our shim too, but its own list above says more.
  if (own === null) pushDefined(found, fromProposal(a));
  for (const event of span.events ?? []) {
    if (event.name === GEN_AI_GUARDRAIL.findingEvent && own === null)
      pushDefined(found, fromProposal({ ...event.attributes }, true));
    if (event.name === 'guard.evaluation') pushDefined(found, fromOpenLit(event.attributes ?? {}));
  }
  pushDefined(found, fromOpenLlmetry(span));
  pushDefined(found, fromOpenLit(a));
  pushDefined(found, fromOpenInference(span));
  found.sort((x, y) => y.score - x.score || x.start - y.start);
  return dedupe(found).slice(0, MAX_EVENT_DETECTIONS);
}

/** The shim's own list: each entry checked field by field, its excerpt redacted again and bounded. */
function ownDetections(value: unknown): ContentDetection[] | null {
  if (typeof value !== 'string' || value.length === 0) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.length > 65_536 ? '[]' : value);
  } catch {
    return null;
  }
  if (!Array.isArray(parsed)) return null;
  const out: ContentDetection[] = [];
  for (const raw of parsed.slice(0, MAX_EVENT_DETECTIONS)) {
    if (typeof raw !== 'object' || raw === null) continue;
    const d = raw as Record<string, unknown>;
    const detector = (CONTENT_DETECTORS as readonly unknown[]).includes(d.detector)
      ? (d.detector as ContentDetection['detector'])
      : null;
    const channel = asChannel(d.channel);
    if (detector === null || channel === null || typeof d.rule !== 'string' || typeof d.kind !== 'string') continue;
    out.push({
      detector,
      rule: d.rule.slice(0, 128),
      kind: d.kind.slice(0, 64),
      channel,
      score: score(d.score) ?? 0,
      severity: asSeverity(d.severity) ?? 'medium',
      excerpt: safeExcerpt(d.excerpt),
      start: offset(d.start),
      end: Math.max(offset(d.start), offset(d.end)),
      via: typeof d.via === 'string' ? d.via.slice(0, 32) : 'text',
    });
  }
  return out;
}

/** A verdict in the OpenTelemetry proposal's terms: anything but allow (or audit) is a detection. */
function fromProposal(a: Record<string, unknown>, finding = false): ContentDetection | undefined {
  const verdict = str(a[GEN_AI_GUARDRAIL.verdictType]);
  const taken = str(a[GEN_AI_GUARDRAIL.actionType]);
  if (verdict === undefined && taken === undefined && !finding) return undefined;
  const quiet = (v: string | undefined): boolean => v === undefined || v === 'allow' || v === 'audit';
  if (quiet(verdict) && quiet(taken) && !finding) return undefined;
  const via = actionOf(taken ?? verdict);
  const risk = score(a[GEN_AI_GUARDRAIL.riskScore]);
  return {
    detector: 'guardrail',
    rule:
      str(a[GEN_AI_GUARDRAIL.policyRuleId]) ??
      str(a[GEN_AI_GUARDRAIL.policyId]) ??
      str(a[GEN_AI_GUARDRAIL.componentName]) ??
      'gen_ai.guardrail',
    kind: str(a[GEN_AI_GUARDRAIL.riskCategory]) ?? str(a[GEN_AI_GUARDRAIL.verdictCode]) ?? verdict ?? 'guardrail',
    channel: channelOf(str(a[GEN_AI_GUARDRAIL.targetType]), str(a[GEN_AI_GUARDRAIL.targetSubtype])),
    score: risk ?? (via === 'allow' ? 0.5 : 1),
    severity: severityOf(risk ?? 1, via),
    excerpt: safeExcerpt(a[GEN_AI_GUARDRAIL.verdictReason]),
    start: 0,
    end: 0,
    via,
  };
}

/** OpenLLMetry (Traceloop) guardrails: a guard or guardrail span whose status is FAILED; a guard that raised is no verdict. */
function fromOpenLlmetry(span: GuardrailSpan): ContentDetection | undefined {
  const a = span.attributes;
  if (str(a['gen_ai.guardrail.status'])?.toUpperCase() !== 'FAILED') return undefined;
  if (a['gen_ai.guardrail.error.type'] !== undefined) return undefined;
  const name = str(a['gen_ai.guardrail.name']) ?? span.name.replace(/\.(guardrail|guard)$/, '');
  // Its guards read the guarded function's output; whether the caller was stopped shows in the span's status.
  const via = span.status?.code === 2 ? 'block' : 'allow';
  return {
    detector: 'guardrail',
    rule: `openllmetry.${name}`.slice(0, 128),
    kind: 'failed',
    channel: 'completion',
    score: 1,
    severity: severityOf(1, via),
    excerpt: safeExcerpt(`guard ${name} failed`),
    start: 0,
    end: 0,
    via,
  };
}

/** OpenLIT: `guard.verdict` yes (older guards), or a `guard.action` other than allow (guard pipelines). */
function fromOpenLit(a: Record<string, unknown>): ContentDetection | undefined {
  const verdict = str(a['guard.verdict'])?.toLowerCase();
  const taken = str(a['guard.action'])?.toLowerCase();
  if (verdict === undefined && taken === undefined) return undefined;
  if (verdict !== 'yes' && (taken === undefined || taken === 'allow')) return undefined;
  const name = str(a['guard.validator']) ?? str(a['guard.name']) ?? 'guard';
  const via = taken === 'deny' || taken === 'block' ? 'block' : taken === 'redact' ? 'redact' : 'allow';
  const risk = score(a['guard.score']);
  const phase = str(a['guard.phase']);
  return {
    detector: 'guardrail',
    rule: `openlit.${name}`.slice(0, 128),
    kind: (str(a['guard.classification']) ?? name).slice(0, 64),
    channel: phase === 'postflight' ? 'completion' : 'user_prompt',
    score: risk ?? 1,
    severity: severityOf(risk ?? 1, via),
    excerpt: safeExcerpt(a['guard.explanation'] ?? name),
    start: 0,
    end: 0,
    via,
  };
}

/** Words an OpenInference GUARDRAIL span's output.value uses for a check that did not pass. */
const FAILED_OUTPUTS = new Set([
  'fail',
  'failed',
  'failure',
  'block',
  'blocked',
  'flagged',
  'deny',
  'denied',
  'triggered',
]);
/** Guardrails AI's on-fail actions, as the action taken. */
const ON_FAIL: Readonly<Record<string, ContentDetection['via']>> = {
  exception: 'block',
  refrain: 'block',
  filter: 'block',
  fix: 'redact',
  fix_reask: 'redact',
};

/** OpenInference: a GUARDRAIL span whose output says the check failed (never its input.value, which is content). */
function fromOpenInference(span: GuardrailSpan): ContentDetection | undefined {
  const a = span.attributes;
  if (a['openinference.span.kind'] !== 'GUARDRAIL') return undefined;
  if (!failedOutput(a['output.value'])) return undefined;
  const name = str(a.validator_name) ?? span.name;
  const via = ON_FAIL[str(a.validator_on_fail)?.toLowerCase() ?? ''] ?? 'allow';
  return {
    detector: 'guardrail',
    rule: `openinference.${name}`.slice(0, 128),
    kind: name.slice(0, 64),
    channel: 'completion',
    score: 1,
    severity: severityOf(1, via),
    excerpt: safeExcerpt(`${name} failed`),
    start: 0,
    end: 0,
    via,
  };
}

function failedOutput(value: unknown): boolean {
  if (value === true) return true;
  if (typeof value !== 'string' || value.length > 4096) return false;
  const word = value.trim().toLowerCase();
  if (FAILED_OUTPUTS.has(word)) return true;
  if (!word.startsWith('{')) return false;
  try {
    const o = JSON.parse(value) as Record<string, unknown>;
    if (o.tripwire_triggered === true || o.triggered === true || o.flagged === true) return true;
    if (o.passed === false || o.validation_passed === false) return true;
    const outcome = str(o.outcome) ?? str(o.result) ?? str(o.status);
    return outcome !== undefined && FAILED_OUTPUTS.has(outcome.toLowerCase());
  } catch {
    return false;
  }
}

/** Where the proposal's target points: input/output of a model call, tool call, retrieval. */
function channelOf(type: string | undefined, subtype: string | undefined): ContentChannel {
  if (subtype === 'retrieval') return 'retrieved_doc';
  if (subtype === 'tool_call') return type === 'output' ? 'tool_output' : 'tool_arguments';
  return type === 'output' ? 'completion' : 'user_prompt';
}

function actionOf(value: string | undefined): ContentDetection['via'] {
  switch (value) {
    case 'block':
    case 'deny':
      return 'block';
    case 'modify':
    case 'redact':
      return 'redact';
    default:
      return 'allow';
  }
}

function severityOf(risk: number, via: string): Severity {
  if (via === 'block') return risk >= 0.9 ? 'critical' : 'high';
  return risk >= 0.9 ? 'high' : risk >= 0.5 ? 'medium' : 'low';
}

/** A label or reason as an excerpt: PII and secrets masked, whitespace folded, at most 120 characters. */
function safeExcerpt(value: unknown): string {
  if (typeof value !== 'string' || value === '') return '';
  const flat = redact(value.slice(0, MAX_REASON)).text.replace(/\s+/g, ' ').trim();
  return flat.length <= MAX_EXCERPT ? flat : `${flat.slice(0, MAX_EXCERPT - 1)}…`;
}

function dedupe(found: ContentDetection[]): ContentDetection[] {
  const seen = new Set<string>();
  return found.filter((d) => {
    const key = `${d.detector}\u0000${d.rule}\u0000${d.kind}\u0000${d.channel}\u0000${d.start}\u0000${d.via}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function pushDefined(out: ContentDetection[], detection: ContentDetection | undefined): void {
  if (detection !== undefined) out.push(detection);
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function score(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? Math.min(1, Math.max(0, n)) : undefined;
}

function offset(value: unknown): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : 0;
}

function asChannel(value: unknown): ContentChannel | null {
  return (CONTENT_CHANNELS as readonly unknown[]).includes(value) ? (value as ContentChannel) : null;
}

const SEVERITY_VALUES: readonly string[] = ['info', 'low', 'medium', 'high', 'critical'];
function asSeverity(value: unknown): Severity | null {
  return typeof value === 'string' && SEVERITY_VALUES.includes(value) ? (value as Severity) : null;
}
