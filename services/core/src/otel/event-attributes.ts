import { cleanIdentifier, escapeIdentifier } from '../content/identifiers.ts';
import { redact } from '../content/redact.ts';
import { asText } from './attribute-read.ts';
import { isContentKey } from './content-attributes.ts';
import type { SpanInput } from './span-input.ts';

export const EVENT_ATTRIBUTE_LIMITS = { maxCount: 32, maxValueLength: 256 } as const;

/** Read into the event's own fields, so not repeated among its attributes. */
const MAPPED_KEYS = new Set([
  'gen_ai.operation.name',
  'gen_ai.provider.name',
  'gen_ai.system',
  'gen_ai.request.model',
  'gen_ai.response.model',
  'gen_ai.response.finish_reasons',
  'gen_ai.usage.input_tokens',
  'gen_ai.usage.output_tokens',
  'gen_ai.usage.prompt_tokens',
  'gen_ai.usage.completion_tokens',
  'gen_ai.tool.name',
  'gen_ai.agent.name',
  'gen_ai.conversation.id',
  'gen_ai.user.id',
  'gen_ai.user',
  'gen_ai.request.user',
  'gen_ai.response.id',
  'llm.response.id',
  'anthropic.message.stop_reason',
  'openinference.span.kind',
  'llm.model_name',
  'llm.request.model_name',
  'llm.response.model_name',
  'embedding.model_name',
  'llm.provider',
  'llm.system',
  'llm.token_count.prompt',
  'llm.token_count.completion',
  'llm.finish_reason',
  'llm.request.type',
  'tool.name',
  'agent.name',
  'user.id',
  'session.id',
  'traceloop.span.kind',
  'traceloop.association.properties.user_id',
  'traceloop.association.properties.session_id',
  'enduser.id',
  'server.address',
  'url.full',
  'gen_ai.openai.api_base',
  'error.type',
  'deployment.environment',
  'deployment.environment.name',
]);

/** Kept first when a span has more attributes than fit: they identify the call and the instrumentation. */
const PRIORITY_KEYS = [
  'gen_ai.response.id',
  'gen_ai.tool.call.id',
  'gen_ai.tool.type',
  'gen_ai.agent.id',
  'traceloop.entity.name',
  'traceloop.workflow.name',
  'server.port',
];

const RESOURCE_KEYS = ['service.version', 'service.namespace'];

/**
 * The event's `attributes`: a bounded, deterministic selection of what the
 * event's fields do not already hold. Content-bearing attributes are never
 * kept, and every kept value is redacted too: metadata such as URLs and error
 * messages carry tokens and addresses as often as prompts do.
 */
export function eventAttributes(
  span: SpanInput,
  unusable: string[],
  originals: readonly [string, string][] = [],
  raws: readonly [string, string][] = [],
): Record<string, string> {
  // Values the event stores normalised, in the sender's spelling, and the response id under its stable key.
  const candidates: [string, string][] = [...raws];
  if (span.scope.name !== '') candidates.push(['otel.scope.name', span.scope.name]);
  if (span.status.message !== '') candidates.push(['otel.status_description', span.status.message]);
  if (span.droppedAttributesCount > 0)
    candidates.push(['otel.dropped_attributes_count', String(span.droppedAttributesCount)]);
  if (unusable.length > 0) candidates.push(['aispm.unusable_attributes', unusable.join(',')]);
  for (const key of RESOURCE_KEYS) {
    const value = span.resource.get(key);
    if (value !== undefined) candidates.push([key, asText(value)]);
  }
  const others = [...span.attributes.keys()]
    .filter((key) => !MAPPED_KEYS.has(key) && !key.startsWith('aispm.') && !isContentKey(key))
    .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  for (const key of others) {
    if (candidates.length >= EVENT_ATTRIBUTE_LIMITS.maxCount) break;
    const value = span.attributes.get(key);
    if (value !== undefined) candidates.push([key, asText(value)]);
  }
  // Originals of identifiers (kept only under `full` capture) come first and are already escaped and bounded.
  const kept = candidates
    .slice(0, EVENT_ATTRIBUTE_LIMITS.maxCount - originals.length)
    .map(([key, value]): [string, string] => [cleanIdentifier(key), boundedValue(value)]);
  return Object.fromEntries([...originals, ...kept]);
}

function rank(key: string): number {
  const index = PRIORITY_KEYS.indexOf(key);
  return index < 0 ? PRIORITY_KEYS.length : index;
}

/** Redacts before cutting, so a cut cannot hide a secret from its pattern; the redaction input is capped for cost. */
function boundedValue(value: string): string {
  // Control, bidi and invisible characters are shown as escapes: an attribute may be free text, so nothing is dropped.
  const masked = escapeIdentifier(redact(value.slice(0, 65_536)).text, 65_536);
  return masked.length > EVENT_ATTRIBUTE_LIMITS.maxValueLength
    ? masked.slice(0, EVENT_ATTRIBUTE_LIMITS.maxValueLength).toWellFormed()
    : masked;
}
