import { SpanKind, context, trace, type Attributes, type Span } from '@opentelemetry/api';
import type { ToolRisk } from '@aispm/core';
import { AISPM, GEN_AI, OPERATIONS } from './attributes.ts';
import { guardOf, type LoadedGuard } from './guard-hook.ts';
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

/**
 * Starts an `execute_tool {name}` span with the tool's declared risk (aispm.tool.risk, "unknown" if none).
 * In guard mode its arguments are checked first (a block ends the span and throws: the tool does not run),
 * and its result is checked when runInSpan finishes it.
 */
export function startToolSpan(tracing: ShimTracing, call: ToolCall): Span {
  return startGuardedToolSpan(tracing, call).span;
}

/** Tool spans whose result the guard checks before runInSpan hands it on. */
const resultGuards = new WeakMap<Span, (result: unknown) => unknown>();

/**
 * startToolSpan, also returning the arguments to pass on: in guard mode, redacted where the policy says
 * (the MCP client sends those; a local function already holds its own). Guard mode needs the guard loaded:
 * async callers await it first (mcp.ts); a synchronous withTool before then gets guard_not_ready.
 */
export function startGuardedToolSpan(tracing: ShimTracing, call: ToolCall): { span: Span; arguments: unknown } {
  const hook = guardOf(tracing);
  let guard: LoadedGuard | undefined;
  if (hook !== undefined) guard = hook.now();
  const span = openToolSpan(tracing, call);
  if (guard === undefined) {
    tracing.capture.setPayload(span, GEN_AI.toolArguments, call.arguments);
    return { span, arguments: call.arguments };
  }
  let args = call.arguments;
  try {
    if (args !== undefined) args = guard.toolArguments(span, call.name, args);
  } catch (err) {
    recordError(span, err, tracing.capture);
    span.end();
    throw err;
  }
  tracing.capture.setPayload(span, GEN_AI.toolArguments, args);
  const checked = guard;
  resultGuards.set(span, (result) => (result === undefined ? result : checked.toolResult(span, call.name, result)));
  return { span, arguments: args };
}

function openToolSpan(tracing: ShimTracing, call: ToolCall): Span {
  const attributes: Attributes = {
    [GEN_AI.operation]: OPERATIONS.executeTool,
    [GEN_AI.toolName]: call.name,
    [GEN_AI.toolType]: call.type ?? 'function',
    [AISPM.toolRisk]: call.risk ?? tracing.toolRisks.get(call.name) ?? 'unknown',
    ...principalAttributes(tracing.principal),
    ...serverAttributes(call.url),
  };
  if (call.id !== undefined) attributes[GEN_AI.toolCallId] = call.id;
  return tracing.tracer.startSpan(`${OPERATIONS.executeTool} ${call.name}`, {
    kind: SpanKind.INTERNAL,
    attributes,
  });
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
  // A guarded tool's result is checked before it is handed on: blocked, it is an error; redacted, the copy goes on.
  const check = resultGuards.get(span);
  const finish = <V>(value: V): V => {
    let out = value;
    if (check !== undefined) {
      try {
        out = check(value) as V;
      } catch (err) {
        return fail(err);
      }
    }
    safely(() => onResult(span, out as Awaited<T>));
    span.end();
    return out;
  };
  let result: T;
  try {
    result = context.with(trace.setSpan(context.active(), span), fn, undefined, span);
  } catch (err) {
    return fail(err);
  }
  if (result instanceof Promise) return result.then((value: Awaited<T>) => finish(value), fail) as T;
  return finish(result);
}
