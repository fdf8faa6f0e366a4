import type { AiEvent, SpanLink } from '@aispm/core';
import type { TraceRecord } from './third-party.ts';

/**
 * The demo's traces as OTLP/JSON (an ExportTraceServiceRequest), spelled as the
 * OpenTelemetry GenAI semantic conventions spell them, so `aispm fleet` drives a
 * gateway as instrumented apps do and the gateway's own mapping makes the events
 * again. A record that is no AI action (a framework step) is a plain span.
 */
export function toOtlpJson(records: readonly TraceRecord[]): OtlpJsonRequest {
  const byResource = new Map<string, { app: string; environment: string; spans: OtlpSpan[] }>();
  // A step span takes its trace's time: steps carry none of their own in the demo.
  const traceTime = new Map(records.flatMap((r) => (r.event ? [[r.event.trace_id, r.event.time] as const] : [])));
  for (const record of records) {
    const { app, environment, span } = record.event
      ? eventSpan(record.event)
      : linkSpan(record.link, traceTime.get(record.link.trace_id) ?? Date.now() * 1000);
    const key = `${app}\u0000${environment}`;
    let group = byResource.get(key);
    if (!group) byResource.set(key, (group = { app, environment, spans: [] }));
    group.spans.push(span);
  }
  return {
    resourceSpans: [...byResource.values()].map(({ app, environment, spans }) => ({
      resource: {
        attributes: attributes([
          ['service.name', app],
          ['deployment.environment.name', environment],
        ]),
      },
      scopeSpans: [{ scope: { name: 'aispm-fleet' }, spans }],
    })),
  };
}

export interface OtlpJsonRequest {
  resourceSpans: {
    resource: { attributes: OtlpAttribute[] };
    scopeSpans: { scope: { name: string }; spans: OtlpSpan[] }[];
  }[];
}

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpAttribute[];
  status: { code: number };
}

interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
type OtlpValue = { stringValue: string } | { intValue: string } | { arrayValue: { values: { stringValue: string }[] } };

type Entry = readonly [string, string | number | readonly string[] | null | undefined];

function attributes(entries: readonly Entry[]): OtlpAttribute[] {
  const out: OtlpAttribute[] = [];
  for (const [key, value] of entries) {
    if (value === null || value === undefined) continue;
    if (typeof value === 'number') out.push({ key, value: { intValue: String(Math.round(value)) } });
    else if (typeof value === 'string') out.push({ key, value: { stringValue: value } });
    else if (value.length > 0) {
      out.push({ key, value: { arrayValue: { values: value.map((v) => ({ stringValue: v })) } } });
    }
  }
  return out;
}

/** The conventions' span kinds: a model or tool call is a client call, an agent run internal. */
const SPAN_KIND = { internal: 1, client: 3 } as const;
const STATUS = { unset: 0, error: 2 } as const;

function eventSpan(event: AiEvent): { app: string; environment: string; span: OtlpSpan } {
  const [host, port] = splitHost(event.destination);
  const startNs = BigInt(Math.round(event.time)) * 1000n;
  const endNs = startNs + BigInt(Math.round(event.latency_ms * 1_000_000));
  const name = [event.operation, event.request_model ?? event.tool_name ?? event.agent].filter(Boolean).join(' ');
  const entries: Entry[] = [
    ['gen_ai.operation.name', event.operation],
    ['gen_ai.provider.name', event.provider],
    ['gen_ai.request.model', event.request_model],
    ['gen_ai.response.model', event.response_model],
    ['gen_ai.agent.name', event.agent],
    ['gen_ai.tool.name', event.tool_name],
    ['gen_ai.conversation.id', event.conversation_id],
    ['gen_ai.usage.input_tokens', event.input_tokens],
    ['gen_ai.usage.output_tokens', event.output_tokens],
    ['gen_ai.response.finish_reasons', event.finish_reasons],
    ['gen_ai.input.messages', event.content.prompt],
    ['gen_ai.output.messages', event.content.completion],
    ['gen_ai.tool.call.arguments', event.content.tool_arguments],
    ['gen_ai.tool.call.result', event.content.tool_result],
    ['enduser.id', event.user],
    ['aispm.identity', event.identity],
    ['aispm.scopes', event.scopes],
    ['aispm.tool.risk', event.tool_risk],
    ['server.address', host],
    ['server.port', port],
    ['error.type', event.error_type],
    // The rest as the app sent them (response ids, the demo's ground-truth label).
    ...Object.entries(event.attributes),
  ];
  return {
    app: event.app,
    environment: event.environment,
    span: {
      traceId: event.trace_id,
      spanId: event.span_id,
      ...(event.parent_span_id === null ? {} : { parentSpanId: event.parent_span_id }),
      name: name || event.kind,
      kind: event.kind === 'agent_action' ? SPAN_KIND.internal : SPAN_KIND.client,
      startTimeUnixNano: String(startNs),
      endTimeUnixNano: String(endNs),
      attributes: attributes(entries),
      status: { code: event.status === 'error' ? STATUS.error : STATUS.unset },
    },
  };
}

/** A framework step between an agent and its calls: no AI attribute, so the gateway keeps it as a link. */
function linkSpan(link: SpanLink, timeMicros: number): { app: string; environment: string; span: OtlpSpan } {
  const ns = String(BigInt(Math.round(timeMicros)) * 1000n);
  return {
    app: 'unknown_service',
    environment: 'default',
    span: {
      traceId: link.trace_id,
      spanId: link.span_id,
      ...(link.parent_span_id === null ? {} : { parentSpanId: link.parent_span_id }),
      name: 'step',
      kind: SPAN_KIND.internal,
      startTimeUnixNano: ns,
      endTimeUnixNano: ns,
      attributes: [],
      status: { code: STATUS.unset },
    },
  };
}

/** host:port as server.address and server.port; a bare host (or IPv6 address) as the address alone. */
function splitHost(destination: string | null): [string | null, number | null] {
  if (destination === null) return [null, null];
  const match = /^(\[[^\]]*\]|[^:]+):(\d+)$/.exec(destination);
  return match ? [match[1]!, Number(match[2])] : [destination, null];
}
