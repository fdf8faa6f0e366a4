import { captureContent, effectivePolicy, type CaptureOptions } from '../content/capture.ts';
import { DETECTIONS_ATTRIBUTE, decodeDetections, mergeDetections } from '../detect/carried.ts';
import { contentScannerFor } from '../detect/scanners.ts';
import { AISPM_GUARD_DETECTIONS, guardrailDetections, isGuardrailSpan } from '../detect/guard/third-party.ts';
import type { ContentDetection } from '../detect/verdict.ts';
import {
  deriveIdentifierKey,
  escapeIdentifier,
  identifierProtector,
  type IdentifierOptions,
  type IdentifierProtector,
} from '../content/identifiers.ts';
import { eventIdOf, TOOL_RISKS, type AiEvent, type EventKind, type ToolRisk } from '../event/types.ts';
import { invalidReason } from '../event/validate.ts';
import { identifier, MAX_RAW_IDENTIFIER, stringList, tokenCount } from './attribute-read.ts';
import { classify } from './classify.ts';
import { extractContent, finishReasons } from './content-attributes.ts';
import { eventAttributes } from './event-attributes.ts';
import {
  destination,
  invocationParameter,
  normaliseErrorType,
  normaliseFinishReason,
  responseId,
} from './normalise.ts';
import type { SpanAttributes, SpanInput } from './span-input.ts';
import type { RedactionKind } from '../content/redaction-rules.ts';

export interface SpanToEventOptions {
  tenant: string;
  capture: CaptureOptions;
  /** The clock invalidReason judges the span's time against; defaults to now. */
  nowMs?: number;
}

/** An event; or a span that is not an AI action (not an error); or an AI span no valid event can be made of. */
export type SpanToEventResult = { event: AiEvent } | { ignored: string } | { rejected: string };

/**
 * OpenTelemetry service.name is required, and SDKs fill it in as
 * `unknown_service[:process]`. A sender without one gets the same default
 * instead of losing the span: security monitoring must see unnamed apps too.
 */
export const UNKNOWN_APP = 'unknown_service';

/**
 * Maps one span onto the AiEvent, reading the OTel GenAI (`gen_ai.*`),
 * OpenInference and OpenLLMetry conventions plus aispm's own `aispm.*`
 * attributes. Content goes through the content detectors and then the capture
 * policy, and nowhere else.
 */
export function spanToEvent(span: SpanInput, options: SpanToEventOptions): SpanToEventResult {
  const classified = classify(span.attributes);
  if ('ignored' in classified) return classified;
  const { kind } = classified;
  const attributes = span.attributes;
  const unusable: string[] = [];
  const errorType = identifier(attributes, 'error.type');
  const failed = span.status.code === 'error' || errorType !== null;
  // Raw spellings of values stored normalised, kept in the event's attributes under their own keys.
  const raws: [string, string][] = [];
  const rawErrorType = failed ? (errorType ?? span.exceptionType?.slice(0, MAX_RAW_IDENTIFIER) ?? null) : null;
  const rawReasons = finishReasons(attributes);
  const reasons = rawReasons.map(normaliseFinishReason);
  if (reasons.some((reason, i) => reason !== rawReasons[i]))
    raws.push([finishReasonsKey(attributes), rawReasons.join(',')]);
  const models = requestedAndRespondedModels(attributes, failed);
  const host = destination(attributes);
  const responseIdValue = responseId(attributes);
  if (responseIdValue !== null) raws.push(['gen_ai.response.id', responseIdValue]);
  const raw = extractContent(attributes, kind);
  const fields = new IdentifierFields(
    identifierProtectorFor(options.tenant, options.capture),
    effectivePolicy(options.capture) === 'full',
  );
  const id = fields.one.bind(fields);
  /**
   * Protected as sent, then normalised, so a secret is masked before any change
   * of spelling could hide it from its pattern; the protected raw spelling is
   * kept among the attributes under rawKey when it differs.
   */
  const normalisedId = (
    field: string,
    raw: string | null,
    normalise: (safe: string) => string,
    rawKey: string | null,
    keepKinds?: readonly RedactionKind[],
  ): string | null => {
    const safe = id(field, raw, keepKinds);
    if (safe === null) return null;
    const normal = normalise(safe);
    if (rawKey !== null && normal !== safe) raws.push([rawKey, safe]);
    return normal;
  };
  const event: AiEvent = {
    event_id: eventIdOf(span.traceId, span.spanId),
    trace_id: span.traceId,
    span_id: span.spanId,
    parent_span_id: span.parentSpanId,
    tenant: options.tenant,
    time: span.startTimeUnixMicros,
    kind,
    operation: id('operation', classified.operation) ?? 'unknown',
    app: id('app', identifier(span.resource, 'service.name')) ?? UNKNOWN_APP,
    environment: id('environment', environment(span)) ?? 'default',
    agent: id('agent', agent(attributes)),
    user: id(
      'user',
      identifier(
        attributes,
        'enduser.id',
        'user.id',
        'gen_ai.user.id',
        'traceloop.association.properties.user_id',
        'gen_ai.user',
        'gen_ai.request.user',
      ) ?? invocationParameter(attributes, 'user'),
    ),
    identity: id('identity', identifier(attributes, 'aispm.identity')),
    scopes: fields.list('scopes', stringList(attributes, 'aispm.scopes', 64, MAX_RAW_IDENTIFIER), 64),
    conversation_id: id(
      'conversation_id',
      identifier(attributes, 'gen_ai.conversation.id', 'session.id', 'traceloop.association.properties.session_id'),
    ),
    provider: id(
      'provider',
      identifier(attributes, 'gen_ai.provider.name', 'gen_ai.system', 'llm.provider', 'llm.system'),
    ),
    request_model: id('request_model', models.requested),
    response_model: id('response_model', models.responded),
    tool_name: id(
      'tool_name',
      identifier(attributes, 'gen_ai.tool.name', 'tool.name') ?? traceloopEntity(attributes, 'tool'),
    ),
    tool_risk: toolRisk(attributes, kind),
    // A destination is a host: its address is what security analytics needs, so an IPv4 stays.
    destination: normalisedId(
      'destination',
      host,
      // Lowercased only when protection left it whole (a masked host keeps its placeholder as written).
      (safe) => (safe === host ? safe.toLowerCase() : safe),
      null,
      ['ipv4'],
    ),
    input_tokens: tokenCount(
      attributes,
      ['gen_ai.usage.input_tokens', 'gen_ai.usage.prompt_tokens', 'llm.token_count.prompt'],
      unusable,
    ),
    output_tokens: tokenCount(
      attributes,
      ['gen_ai.usage.output_tokens', 'gen_ai.usage.completion_tokens', 'llm.token_count.completion'],
      unusable,
    ),
    latency_ms: (span.endTimeUnixMicros - span.startTimeUnixMicros) / 1000,
    status: failed ? 'error' : 'ok',
    // `_OTHER` is the GenAI conventions' error.type for an error of no known class.
    error_type: failed
      ? (normalisedId(
          'error_type',
          rawErrorType,
          normaliseErrorType,
          errorType === null ? 'exception.type' : 'error.type',
        ) ?? '_OTHER')
      : null,
    finish_reasons: fields.list('finish_reasons', reasons, 16, 64),
    content: captureContent(raw, options.capture, identifier(attributes, 'aispm.capture.policy') ?? undefined),
    attributes: eventAttributes(span, unusable, fields.originals, raws),
    // Before the capture policy keeps (or drops) the texts: verdicts travel under every policy.
    // The shim's verdicts on texts its own policy kept from us, then ours on what arrived.
    detections: mergeDetections(
      [...decodeDetections(attributes.get(DETECTIONS_ATTRIBUTE)), ...guardrailVerdicts(span)],
      contentScannerFor(options.capture.detect).scan(raw, kind, options.tenant),
    ),
  };
  const reason = invalidReason(event, options.nowMs ?? Date.now());
  return reason === null ? { event } : { rejected: reason };
}

/**
 * Verdicts of guardrails that ran in the app (our shim's guard, OpenLIT,
 * OpenLLMetry, OpenInference, the OTel GenAI proposal), read off the span. Most
 * spans have none: the key scan decides before any object is built.
 */
function guardrailVerdicts(span: SpanInput): ContentDetection[] {
  let guarded = false;
  for (const key of span.attributes.keys())
    if (key.startsWith('gen_ai.guardrail.') || key.startsWith('guard.') || key === AISPM_GUARD_DETECTIONS) {
      guarded = true;
      break;
    }
  if (!guarded && span.attributes.get('openinference.span.kind') !== 'GUARDRAIL') return [];
  const input = {
    name: span.name,
    attributes: Object.fromEntries(span.attributes),
    status: { code: span.status.code === 'error' ? 2 : span.status.code === 'ok' ? 1 : 0 },
  };
  return isGuardrailSpan(input) ? guardrailDetections(input) : [];
}

/** The protector of a tenant's identifiers under these capture options (see defaultIdentifierOptions). */
export function identifierProtectorFor(tenant: string, capture: CaptureOptions): IdentifierProtector {
  return identifierProtector(tenant, capture.identifiers ?? defaultIdentifierOptions(capture));
}

/**
 * Without identifier options (a sender that builds CaptureOptions itself, as the
 * shim's Kafka exporter does): pseudonymise with the key derived from the capture
 * HMAC key, as configuration does, so its pseudonyms match the gateway's; mask without one.
 */
function defaultIdentifierOptions(capture: CaptureOptions): IdentifierOptions {
  // One object per capture options (and key), so the identifier cache, scoped by options object, is shared across spans.
  const known = defaultOptions.get(capture);
  if (known !== undefined && known.captureKey === capture.hmacKey) return known.options;
  const options: IdentifierOptions = {
    policy: 'pseudonymise',
    hmacKey: capture.hmacKey === null ? null : deriveIdentifierKey(capture.hmacKey),
    keyFile: null,
  };
  defaultOptions.set(capture, { captureKey: capture.hmacKey, options });
  return options;
}

const defaultOptions = new WeakMap<CaptureOptions, { captureKey: string | null; options: IdentifierOptions }>();

/**
 * The event's identifier fields as stored: each cleaned (no control, bidi or
 * invisible characters), PII pseudonymised and secrets masked under the
 * identifier policy, and bounded. Under the `full` capture policy the original
 * of a value that changed is kept too, escaped, as `aispm.original.<field>`.
 */
class IdentifierFields {
  readonly originals: [string, string][] = [];
  readonly #protect: IdentifierProtector;
  readonly #keepOriginals: boolean;

  constructor(protect: IdentifierProtector, keepOriginals: boolean) {
    this.#protect = protect;
    this.#keepOriginals = keepOriginals;
  }

  one(field: string, raw: string | null, keepKinds?: readonly RedactionKind[]): string | null {
    if (raw === null) return null;
    const safe = this.#protect(raw, keepKinds === undefined ? {} : { keepKinds });
    if (this.#keepOriginals && safe !== raw) this.originals.push([`aispm.original.${field}`, escapeIdentifier(raw)]);
    return safe === '' ? null : safe;
  }

  /** Each item protected, bounded to maxLength, blanks and duplicates dropped. */
  list(field: string, raw: string[], maxItems: number, maxLength?: number): string[] {
    const kept = new Set<string>();
    for (const item of raw) {
      const safe = this.#protect(item);
      const bounded = maxLength === undefined ? safe : safe.slice(0, maxLength).toWellFormed();
      if (bounded !== '') kept.add(bounded);
      if (kept.size === maxItems) break;
    }
    const list = [...kept];
    if (this.#keepOriginals && (list.length !== raw.length || list.some((item, i) => item !== raw[i]))) {
      this.originals.push([`aispm.original.${field}`, escapeIdentifier(JSON.stringify(raw))]);
    }
    return list;
  }
}

/**
 * The model asked for and the model that answered. OpenInference's
 * llm.model_name (and embedding.model_name) is the model of the response, a
 * dated snapshot; the requested one is in llm.request.model_name or in the JSON
 * of the invocation parameters. A failed call has no responded model unless
 * one is declared (OpenInference fills llm.model_name from the request then).
 * When only one model is known, it stands for the requested one too.
 */
function requestedAndRespondedModels(
  attributes: SpanAttributes,
  failed: boolean,
): { requested: string | null; responded: string | null } {
  const declared = identifier(attributes, 'gen_ai.response.model', 'llm.response.model_name');
  const openInference = identifier(attributes, 'llm.model_name', 'embedding.model_name');
  const requested =
    identifier(attributes, 'gen_ai.request.model', 'llm.request.model_name') ??
    invocationParameter(attributes, 'model');
  const responded = declared ?? (failed && requested !== null ? null : openInference);
  return { requested: requested ?? responded, responded };
}

/** The attribute the finish reasons were read from, for keeping their raw spelling. */
function finishReasonsKey(attributes: SpanAttributes): string {
  const keys = ['gen_ai.response.finish_reasons', 'llm.finish_reason', 'anthropic.message.stop_reason'];
  return keys.find((key) => attributes.has(key)) ?? 'gen_ai.response.finish_reasons';
}

/** deployment.environment.name (current) or deployment.environment (older), on the resource or else the span. */
function environment(span: SpanInput): string | null {
  const keys = ['deployment.environment.name', 'deployment.environment'];
  return identifier(span.resource, ...keys) ?? identifier(span.attributes, ...keys);
}

/** The agent the span belongs to; aispm.agent (set by the shim on every span) is the fallback. */
function agent(attributes: SpanAttributes): string | null {
  return (
    identifier(attributes, 'gen_ai.agent.name', 'gen_ai.agent.id', 'agent.name') ??
    traceloopEntity(attributes, 'agent') ??
    identifier(attributes, 'aispm.agent')
  );
}

/** OpenLLMetry names its agent and tool spans' subject in traceloop.entity.name. */
function traceloopEntity(attributes: SpanAttributes, spanKind: 'agent' | 'tool'): string | null {
  return identifier(attributes, 'traceloop.span.kind')?.toLowerCase() === spanKind
    ? identifier(attributes, 'traceloop.entity.name')
    : null;
}

/** aispm.tool.risk when declared (an unknown class reads as 'unknown'); every tool call has a risk, 'unknown' by default. */
function toolRisk(attributes: SpanAttributes, kind: EventKind): ToolRisk | null {
  const declared = identifier(attributes, 'aispm.tool.risk')?.toLowerCase();
  if (declared !== undefined) return TOOL_RISKS.find((risk) => risk === declared) ?? 'unknown';
  return kind === 'tool_call' ? 'unknown' : null;
}
