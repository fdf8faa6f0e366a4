import {
  SpanKind,
  SpanStatusCode,
  context,
  createContextKey,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { ToolRisk } from '@aispm/core';
import { AISPM, GEN_AI } from './attributes.ts';
import type { ContentCapture } from './content.ts';

/** Who the instrumented code acts as: stamped on every span the shim starts. */
export interface Principal {
  /** aispm.identity: the principal the agent acts as, e.g. "svc-billing-bot". */
  identity?: string;
  /** aispm.scopes: the permissions granted to that principal. */
  scopes?: string[];
}

/** What every instrumentation needs: a tracer, the capture policy, and the declared principal and tool risks. */
export interface ShimTracing {
  readonly tracer: Tracer;
  readonly capture: ContentCapture;
  readonly principal: Principal;
  /** Declared risk class per tool name (aispm.tool.risk). */
  readonly toolRisks: ReadonlyMap<string, ToolRisk>;
}

/** The agent a piece of work runs under (withAgent), carried in the OTel context to every span started inside. */
export interface AgentScope extends Principal {
  name: string;
  id?: string;
  conversationId?: string;
}

const AGENT = createContextKey('aispm.agent');

export function withAgentScope(parent: Context, agent: AgentScope): Context {
  return parent.setValue(AGENT, agent);
}

/**
 * Who a span acts for: the enclosing agent (its name, id, conversation, and
 * principal when it declares one), else the principal given at register().
 */
export function principalAttributes(principal: Principal): Attributes {
  const agent = context.active().getValue(AGENT) as AgentScope | undefined;
  const attributes: Attributes = {};
  if (agent !== undefined) {
    attributes[GEN_AI.agentName] = agent.name;
    if (agent.id !== undefined) attributes[GEN_AI.agentId] = agent.id;
    if (agent.conversationId !== undefined) attributes[GEN_AI.conversationId] = agent.conversationId;
    principal = { identity: agent.identity ?? principal.identity, scopes: agent.scopes ?? principal.scopes };
  }
  if (principal.identity !== undefined) attributes[AISPM.identity] = principal.identity;
  if (principal.scopes !== undefined && principal.scopes.length > 0) attributes[AISPM.scopes] = principal.scopes;
  return attributes;
}

/** A model call span, named `{operation} {model}` as the conventions ask. */
export function startModelSpan(
  tracing: ShimTracing,
  operation: string,
  provider: string,
  model: string | undefined,
  baseUrl: string | undefined,
): Span {
  const attributes: Attributes = {
    [GEN_AI.operation]: operation,
    [GEN_AI.provider]: provider,
    ...principalAttributes(tracing.principal),
    ...serverAttributes(baseUrl),
  };
  if (model !== undefined) attributes[GEN_AI.requestModel] = model;
  return tracing.tracer.startSpan(model === undefined ? operation : `${operation} ${model}`, {
    kind: SpanKind.CLIENT,
    attributes,
  });
}

/** server.address and server.port of the endpoint a client talks to; a bad URL is simply not recorded. */
export function serverAttributes(baseUrl: string | undefined): Attributes {
  if (baseUrl === undefined) return {};
  try {
    const url = new URL(baseUrl);
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    return { [GEN_AI.serverAddress]: url.hostname, [GEN_AI.serverPort]: port };
  } catch {
    return {};
  }
}

/**
 * Marks a span failed with the conventions' error.type: the HTTP status for API
 * errors (e.g. "429"), else the error's class name, else `_OTHER`.
 */
export function recordError(span: Span, err: unknown, capture: ContentCapture): void {
  span.setAttribute(GEN_AI.errorType, errorType(err));
  // Error messages can quote the request, so they follow the capture policy too.
  const message = err instanceof Error ? capture.text(err.message.slice(0, 256)) : '';
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

function errorType(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const status = (err as { status?: unknown }).status;
    if (typeof status === 'number') return String(status);
    const name = (err as { name?: unknown }).name;
    const ctor = (err as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof ctor === 'string' && ctor !== '' && ctor !== 'Object' && ctor !== 'Error') return ctor;
    if (typeof name === 'string' && name !== '') return name;
  }
  return '_OTHER';
}

/** Sets a numeric attribute only when the provider reported it. */
export function setCount(span: Span, key: string, value: unknown): void {
  if (typeof value === 'number' && Number.isFinite(value)) span.setAttribute(key, value);
}

export function setText(span: Span, key: string, value: unknown): void {
  if (typeof value === 'string' && value !== '') span.setAttribute(key, value);
}
