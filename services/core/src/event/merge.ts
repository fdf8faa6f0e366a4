import type { AiEvent } from './types.ts';

/** The attribute that carries a call's response id (span-to-event keeps it there). */
export const RESPONSE_ID = 'gen_ai.response.id';

/**
 * A model call's identity across instrumentations: its provider and response id
 * (tenant and trace are the assembler's key). Null for other events and for
 * calls without a response id.
 */
export function callIdentity(event: AiEvent): string | null {
  if (event.kind !== 'llm_call' && event.kind !== 'embedding') return null;
  const id = event.attributes[RESPONSE_ID];
  return id ? `${event.provider ?? ''}\u0000${id}` : null;
}

/**
 * Whether two reports without a response id, one the parent of the other, are
 * the same call: same kind and model, providers and token counts that agree where
 * both are known. Two real calls never nest, so the parent-child relation (checked
 * by the caller) is what keeps distinct calls apart.
 */
export function isTwinCall(a: AiEvent, b: AiEvent): boolean {
  const agree = <T>(x: T | null, y: T | null): boolean => x === null || y === null || x === y;
  const model = (e: AiEvent): string | null => e.request_model ?? e.response_model;
  return (
    a.kind === b.kind &&
    model(a) !== null &&
    model(a) === model(b) &&
    agree(a.provider, b.provider) &&
    agree(a.input_tokens, b.input_tokens) &&
    agree(a.output_tokens, b.output_tokens)
  );
}

/** How much an event knows: the report that knows more is the base of a merge. */
function richness(e: AiEvent): number {
  const known = [
    e.agent,
    e.user,
    e.identity,
    e.conversation_id,
    e.provider,
    e.request_model,
    e.response_model,
    e.destination,
    e.input_tokens,
    e.output_tokens,
    e.error_type,
    e.content.prompt,
    e.content.completion,
  ].filter((v) => v !== null).length;
  return known * 1000 + e.finish_reasons.length * 10 + Math.min(9, Object.keys(e.attributes).length / 4);
}

/**
 * One event from two reports of a call: the richer is the base (ties: the one
 * that arrived first), and every field it lacks comes from the other. The
 * other's span id is kept in attributes, so its log events can still be joined.
 */
export function mergeCalls(first: AiEvent, second: AiEvent): AiEvent {
  const [base, other] = richness(second) > richness(first) ? [second, first] : [first, second];
  const pick = <K extends keyof AiEvent>(key: K): AiEvent[K] => base[key] ?? other[key];
  return {
    ...base,
    operation: pick('operation'),
    agent: pick('agent'),
    user: pick('user'),
    identity: pick('identity'),
    scopes: base.scopes.length > 0 ? base.scopes : other.scopes,
    conversation_id: pick('conversation_id'),
    provider: pick('provider'),
    request_model: pick('request_model'),
    response_model: pick('response_model'),
    destination: pick('destination'),
    input_tokens: pick('input_tokens'),
    output_tokens: pick('output_tokens'),
    error_type: pick('error_type'),
    status: base.status === 'error' || other.status === 'error' ? 'error' : 'ok',
    finish_reasons: base.finish_reasons.length > 0 ? base.finish_reasons : other.finish_reasons,
    content: {
      policy: base.content.policy,
      prompt: base.content.prompt ?? other.content.prompt,
      completion: base.content.completion ?? other.content.completion,
      tool_arguments: base.content.tool_arguments ?? other.content.tool_arguments,
      tool_result: base.content.tool_result ?? other.content.tool_result,
    },
    attributes: { ...other.attributes, ...base.attributes, 'aispm.merged.span_id': other.span_id },
  };
}

/**
 * Reports of one call seen together in one export batch (two instrumentations, in
 * one trace or an SDK's trace of its own beside the instrumentation's), merged at
 * mapping time: one event with the fields of both, placed where the outer report
 * is — the parent of the other, or the one nested in a run — so it finds its
 * agent; the other's span is returned to be kept as a link. Twins that arrive in
 * different batches are merged by trace assembly.
 */
export function mergeInBatch(events: readonly AiEvent[]): { kept: AiEvent[]; merged: AiEvent[] } {
  const firstOf = new Map<string, number>();
  const kept: AiEvent[] = [];
  const merged: AiEvent[] = [];
  for (const event of events) {
    const id = callIdentity(event);
    const key = id === null ? null : `${event.tenant}\u0000${id}`;
    const at = key === null ? undefined : firstOf.get(key);
    if (at === undefined) {
      if (key !== null) firstOf.set(key, kept.length);
      kept.push(event);
      continue;
    }
    const twin = kept[at]!;
    const place = outer(twin, event);
    const other = place === twin ? event : twin;
    const both = mergeCalls(place, other);
    kept[at] = {
      ...both,
      event_id: place.event_id,
      trace_id: place.trace_id,
      span_id: place.span_id,
      parent_span_id: place.parent_span_id,
      time: place.time,
      attributes: { ...both.attributes, 'aispm.merged.span_id': other.span_id },
    };
    merged.push(other);
  }
  return { kept, merged };
}

/** Of two reports of a call, the one the other is inside: its parent, else the one nested in a run. */
function outer(a: AiEvent, b: AiEvent): AiEvent {
  if (a.trace_id === b.trace_id) {
    if (b.parent_span_id === a.span_id) return a;
    if (a.parent_span_id === b.span_id) return b;
  }
  return a.parent_span_id === null && b.parent_span_id !== null ? b : a;
}
