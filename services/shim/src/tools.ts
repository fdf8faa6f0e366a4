import { SpanKind, context, trace, type Attributes, type Span } from '@opentelemetry/api';
import type { ToolRisk } from '@aispm/core';
import { AISPM, GEN_AI, OPERATIONS } from './attributes.ts';
import { safely } from './stream.ts';
import { principalAttributes, recordError, serverAttributes, type ShimTracing } from './tracing.ts';

export interface ToolCall {
  name: string;
  /** gen_ai.tool.call.id, when the model assigned one. */
  id?: string;
  /** function (run in this process), extension (run by another service, e.g. an MCP server), datastore. */
  type?: 'function' | 'extension' | 'datastore';
  /** Overrides the risk declared at register() for this tool name. */
  risk?: ToolRisk;
  arguments?: unknown;
  /** The endpoint the tool reaches, for server.address. */
  url?: string;
}

/** Starts an `execute_tool {name}` span with the tool's declared risk (aispm.tool.risk, "unknown" if none). */
export function startToolSpan(tracing: ShimTracing, call: ToolCall): Span {
  const attributes: Attributes = {
    [GEN_AI.operation]: OPERATIONS.executeTool,
    [GEN_AI.toolName]: call.name,
    [GEN_AI.toolType]: call.type ?? 'function',
    [AISPM.toolRisk]: call.risk ?? tracing.toolRisks.get(call.name) ?? 'unknown',
    ...principalAttributes(tracing.principal),
    ...serverAttributes(call.url),
  };
  if (call.id !== undefined) attributes[GEN_AI.toolCallId] = call.id;
  const span = tracing.tracer.startSpan(`${OPERATIONS.executeTool} ${call.name}`, {
    kind: SpanKind.INTERNAL,
    attributes,
  });
  tracing.capture.setPayload(span, GEN_AI.toolArguments, call.arguments);
  return span;
}

/** Runs `fn` inside a span started by `start`, recording its result (via `onResult`) or its error; sync or async. */
export function runInSpan<T>(
  tracing: ShimTracing,
  span: Span,
  fn: (span: Span) => T,
  onResult: (span: Span, result: Awaited<T>) => void,
): T {
  const fail = (err: unknown): never => {
    recordError(span, err, tracing.capture);
    span.end();
    throw err;
  };
  let result: T;
  try {
    result = context.with(trace.setSpan(context.active(), span), fn, undefined, span);
  } catch (err) {
    return fail(err);
  }
  if (result instanceof Promise) {
    return result.then((value: Awaited<T>) => {
      safely(() => onResult(span, value));
      span.end();
      return value;
    }, fail) as T;
  }
  safely(() => onResult(span, result as Awaited<T>));
  span.end();
  return result;
}
