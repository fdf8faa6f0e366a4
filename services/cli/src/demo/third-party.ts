import { eventIdOf, type AiEvent, type SpanLink } from '@aispm/core';
import type { ToolProfile } from './fleet.ts';
import { Random } from './random.ts';

/**
 * The demo's third-party fleet: apps traced by stock instrumentations
 * (OpenInference, OpenLLMetry) rather than the shim. As those libraries do, they
 * name the agent only on the agent span: its model and tool calls hang below it,
 * often under framework step spans that are no AI action (sent as span links),
 * and every span is exported when it ends, so the agent span comes last. Where the
 * provider's SDK is instrumented too, a model call is reported twice: by the
 * framework and by the SDK's own span below it, with the same response id.
 */
export interface ThirdPartyProfile {
  app: string;
  environment: string;
  /** Null: the app runs no agent; its calls hang under a plain HTTP or job span, or under none. */
  agent: string | null;
  identity: string | null;
  scopes: string[];
  provider: string;
  model: string;
  endpoint: string;
  /** How the provider names a response: the prefix of its ids. */
  responseIdPrefix: string;
  tools: ToolProfile[];
  users: string[];
  /** Share of the third-party fleet's traces. */
  weight: number;
  /** Share of model calls the SDK's instrumentation reports a second time. */
  twinShare: number;
  inputTokens: number;
  outputTokens: number;
  latencyMs: number;
}

/** The attribute the instrumentations put a call's response id in. */
const RESPONSE_ID = 'gen_ai.response.id';

/** Share of the demo's benign events that come from the third-party fleet. */
export const THIRD_PARTY_SHARE = 0.15;

const users = (prefix: string, n: number): string[] =>
  Array.from({ length: n }, (_, i) => `${prefix}-${String(i + 1).padStart(3, '0')}`);

export const THIRD_PARTY_FLEET: readonly ThirdPartyProfile[] = [
  {
    // LangChain traced by OpenInference, with the OpenAI SDK instrumented as well.
    app: 'docs-qa',
    environment: 'prod',
    agent: 'docs-agent',
    identity: 'svc-docs@acme',
    scopes: ['docs:read', 'tickets:read'],
    provider: 'openai',
    model: 'gpt-4o-mini',
    endpoint: 'api.openai.com',
    responseIdPrefix: 'chatcmpl-',
    tools: [
      { name: 'search_docs', risk: 'read', destination: 'docs.acme.internal' },
      { name: 'get_ticket', risk: 'read', destination: 'tickets.acme.internal' },
    ],
    users: users('emp', 300),
    weight: 5,
    twinShare: 0.5,
    inputTokens: 1800,
    outputTokens: 260,
    latencyMs: 950,
  },
  {
    // CrewAI traced by OpenLLMetry, with the Anthropic SDK instrumented as well.
    app: 'travel-desk',
    environment: 'prod',
    agent: 'itinerary-planner',
    identity: 'svc-travel@acme',
    scopes: ['travel:read', 'bookings:write'],
    provider: 'anthropic',
    model: 'claude-haiku-4-5',
    endpoint: 'api.anthropic.com',
    responseIdPrefix: 'msg_',
    tools: [
      { name: 'search_flights', risk: 'read', destination: 'flights.api.example' },
      { name: 'book_hotel', risk: 'write', destination: 'booking.api.example' },
    ],
    users: users('emp', 300),
    weight: 3,
    twinShare: 0.3,
    inputTokens: 2600,
    outputTokens: 420,
    latencyMs: 1700,
  },
  {
    // A batch job calling the model straight from a web handler: no agent anywhere in its traces.
    app: 'ticket-summarizer',
    environment: 'prod',
    agent: null,
    identity: null,
    scopes: [],
    provider: 'openai',
    model: 'gpt-4.1-mini',
    endpoint: 'api.openai.com',
    responseIdPrefix: 'chatcmpl-',
    tools: [],
    users: [],
    weight: 2,
    twinShare: 0.4,
    inputTokens: 1500,
    outputTokens: 200,
    latencyMs: 800,
  },
];

export interface ThirdPartyOptions {
  seed: number;
  /** Events to generate: distinct AI actions, a call reported twice counted once. */
  events: number;
  tenant: string;
  /** Simulated time the traffic covers, ending at `endMs`. */
  spanMs: number;
  endMs: number;
}

/** A record of a trace as its exporter sends it: an AI span's event, or a link for a span that is no AI action. */
export type TraceRecord = { event: AiEvent; link?: never } | { link: SpanLink; event?: never };

export interface DemoTrace {
  /** When the trace started (its root span), ms. */
  timeMs: number;
  /** In export order: each span when it ends, so children before their parents. */
  records: TraceRecord[];
  /** Distinct AI actions: the events stored once twins are merged. */
  events: number;
}

/** What a trace should become after trace assembly. */
export interface TraceTruth {
  events: number;
  links: number;
  /** Second reports of a call (same provider and response id). */
  twins: number;
  own: number;
  inherited: number;
  none: number;
}

/** Room left after a trace's start for its spans, so every span starts within the simulated span. */
const TRACE_ROOM_MS = 60_000;

/**
 * The third-party fleet's traces in time order, `events` distinct events in all,
 * spread evenly over the simulated span (these apps serve several time zones).
 * Deterministic for a seed, and its own stream: the fleet's traffic is the same
 * with or without it.
 */
export function* generateThirdPartyTraffic(options: ThirdPartyOptions): Generator<DemoTrace> {
  const rng = new Random(options.seed ^ 0x5bd1e995);
  const startMs = options.endMs - options.spanMs;
  const roomMs = Math.max(0, options.spanMs - TRACE_ROOM_MS);
  const weights = THIRD_PARTY_FLEET.map((p) => p.weight);
  let emitted = 0;
  while (emitted < options.events) {
    const profile = THIRD_PARTY_FLEET[rng.weighted(weights)] as ThirdPartyProfile;
    const timeMs = Math.round(startMs + (roomMs * (emitted + rng.next())) / options.events);
    const trace = new TraceBuilder(rng, profile, options.tenant, timeMs, options.events - emitted).build();
    emitted += trace.events;
    yield trace;
  }
}

/** What trace assembly should make of a trace: own for the agent span, inherited below it, none without one. */
export function truthOf(trace: DemoTrace): TraceTruth {
  const events = trace.records.flatMap((r) => (r.event ? [r.event] : []));
  const own = events.filter((e) => e.agent !== null).length;
  const reports = new Set(events.map((e) => e.attributes[RESPONSE_ID]).filter((id) => id !== undefined));
  const calls = events.filter((e) => e.attributes[RESPONSE_ID] !== undefined).length;
  const distinct = events.length - (calls - reports.size);
  return {
    events: distinct,
    links: trace.records.length - events.length,
    twins: calls - reports.size,
    own,
    inherited: own > 0 ? distinct - own : 0,
    none: own > 0 ? 0 : distinct,
  };
}

export const noTruth = (): TraceTruth => ({ events: 0, links: 0, twins: 0, own: 0, inherited: 0, none: 0 });

export function addTruth(sum: TraceTruth, truth: TraceTruth): TraceTruth {
  for (const k of Object.keys(sum) as (keyof TraceTruth)[]) sum[k] += truth[k];
  return sum;
}

/** Builds one trace span by span, in export order, within a budget of distinct events. */
class TraceBuilder {
  private readonly rng: Random;
  private readonly profile: ThirdPartyProfile;
  private readonly tenant: string;
  private readonly startMs: number;
  private readonly budget: number;
  private readonly records: TraceRecord[] = [];
  private readonly traceId: string;
  private readonly user: string | null;
  private events = 0;
  /** Events still to come that the budget keeps room for: the agent span, exported last. */
  private reserved = 0;
  /** Where the next span starts, ms. */
  private clock: number;

  constructor(rng: Random, profile: ThirdPartyProfile, tenant: string, startMs: number, budget: number) {
    this.rng = rng;
    this.profile = profile;
    this.tenant = tenant;
    this.startMs = startMs;
    this.budget = budget;
    this.traceId = rng.hex(32);
    this.user = profile.users.length > 0 ? rng.pick(profile.users) : null;
    this.clock = startMs;
  }

  build(): DemoTrace {
    if (this.profile.agent === null) this.agentless();
    else this.agentRun();
    return { timeMs: this.startMs, records: this.records, events: this.events };
  }

  /** An agent run: 1–3 framework steps (links), each a model call and maybe a tool call, then the answer; the agent span last. */
  private agentRun(): void {
    const agentSpan = this.rng.hex(16);
    const conversation = `conv-${this.rng.hex(12)}`;
    this.reserved = 1;
    this.clock += 5;
    const steps = 1 + this.rng.int(3);
    for (let s = 0; s < steps && this.room(); s++) this.step(agentSpan);
    if (this.room()) this.modelCall(agentSpan);
    this.reserved = 0;
    this.push(this.agentSpan(agentSpan, conversation));
  }

  /** A framework step (a LangGraph node, a CrewAI task): no AI action itself, so a link. */
  private step(agentSpan: string): void {
    const stepSpan = this.rng.hex(16);
    this.modelCall(stepSpan);
    if (this.room() && this.profile.tools.length > 0 && this.rng.next() < 0.6) this.toolCall(stepSpan);
    this.records.push({
      link: { tenant: this.tenant, trace_id: this.traceId, span_id: stepSpan, parent_span_id: agentSpan },
    });
  }

  /** No agent: a web handler's span (a link) over 1–3 calls, or a lone call at the root. */
  private agentless(): void {
    if (this.rng.next() < 0.3) {
      this.modelCall(null);
      return;
    }
    const handler = this.rng.hex(16);
    const calls = 1 + this.rng.int(3);
    for (let c = 0; c < calls && this.room(); c++) this.modelCall(handler);
    this.records.push({
      link: { tenant: this.tenant, trace_id: this.traceId, span_id: handler, parent_span_id: null },
    });
  }

  /**
   * The framework's span of a model call: no agent, content but no destination.
   * Maybe the SDK's span of the same call below it, exported first (it ends first):
   * same provider, model, tokens and response id, a destination but no content.
   */
  private modelCall(parent: string | null): void {
    const p = this.profile;
    const span = this.rng.hex(16);
    const latency = this.rng.logNormal(p.latencyMs, 0.4);
    const fields: Partial<AiEvent> = {
      kind: 'llm_call',
      operation: 'chat',
      provider: p.provider,
      request_model: p.model,
      response_model: p.model,
      input_tokens: Math.round(this.rng.logNormal(p.inputTokens, 0.35)),
      output_tokens: Math.round(this.rng.logNormal(p.outputTokens, 0.45)),
      latency_ms: latency,
      attributes: { [RESPONSE_ID]: `${p.responseIdPrefix}${this.rng.hex(24)}` },
    };
    if (this.rng.next() < p.twinShare) {
      const sdk = this.span(this.rng.hex(16), span, { ...fields, destination: p.endpoint, latency_ms: latency * 0.97 });
      this.records.push({ event: sdk });
    }
    this.push(
      this.span(span, parent, {
        ...fields,
        finish_reasons: ['stop'],
        content: {
          policy: 'redacted',
          prompt: `${p.app}: answer the request using the context provided`,
          completion: 'Here is what I found.',
          tool_arguments: null,
          tool_result: null,
        },
      }),
    );
    this.clock += latency;
  }

  private toolCall(parent: string): void {
    const tool = this.rng.pick(this.profile.tools);
    const latency = this.rng.logNormal(150, 0.6);
    this.push(
      this.span(this.rng.hex(16), parent, {
        kind: 'tool_call',
        operation: 'execute_tool',
        tool_name: tool.name,
        tool_risk: tool.risk,
        destination: tool.destination,
        latency_ms: latency,
      }),
    );
    this.clock += latency;
  }

  /** The only span that names the agent, with the user, conversation and identity its children inherit. */
  private agentSpan(spanId: string, conversation: string): AiEvent {
    const p = this.profile;
    return {
      ...this.span(spanId, null, { kind: 'agent_action', operation: 'invoke_agent', time: this.startMs * 1000 }),
      agent: p.agent,
      user: this.user,
      identity: p.identity,
      scopes: p.scopes,
      conversation_id: conversation,
      latency_ms: this.lastEnd() - this.startMs,
    };
  }

  /** Whether the budget has room for one more event besides those reserved. */
  private room(): boolean {
    return this.events + this.reserved < this.budget;
  }

  /** Counts a distinct event and records it. */
  private push(event: AiEvent): void {
    this.events++;
    this.records.push({ event });
  }

  private lastEnd(): number {
    let end = this.startMs;
    for (const r of this.records) if (r.event) end = Math.max(end, r.event.time / 1000 + r.event.latency_ms);
    return end;
  }

  /** A span as third-party instrumentations report it: no agent, user or identity unless set. */
  private span(spanId: string, parent: string | null, fields: Partial<AiEvent>): AiEvent {
    return {
      event_id: eventIdOf(this.traceId, spanId),
      trace_id: this.traceId,
      span_id: spanId,
      parent_span_id: parent,
      tenant: this.tenant,
      time: Math.round(this.clock * 1000),
      kind: 'agent_action',
      operation: null,
      app: this.profile.app,
      environment: this.profile.environment,
      agent: null,
      user: null,
      identity: null,
      scopes: [],
      conversation_id: null,
      provider: null,
      request_model: null,
      response_model: null,
      tool_name: null,
      tool_risk: null,
      destination: null,
      input_tokens: null,
      output_tokens: null,
      latency_ms: 0,
      status: 'ok',
      error_type: null,
      finish_reasons: [],
      content: { policy: 'none', prompt: null, completion: null, tool_arguments: null, tool_result: null },
      attributes: {},
      ...fields,
    };
  }
}
