import { context, trace, type Span } from '@opentelemetry/api';
import { OPERATIONS } from './attributes.ts';
import { guardOf, type RequestShape } from './guard-hook.ts';
import { str, type Json } from './json.ts';
import { observeStream } from './stream.ts';
import { recordError, startModelSpan, type ShimTracing } from './tracing.ts';

/** A provider SDK's `create(body, options)` method. */
export type Create = (this: unknown, body: Json, options?: unknown) => unknown;

/** How a provider instrumentation reads one call's outcome. */
export interface CallReader<R, C> {
  /** A whole response. */
  response(span: Span, response: R): void;
  /** Streamed: a fresh accumulator per call, fed every chunk, asked to write the span at the end. */
  stream?: () => { chunk(span: Span, chunk: C): void; finish(span: Span): void };
}

/** How a provider instrumentation reads one `create` call: its request, then its outcome. */
export interface CreateReader<R, C> extends CallReader<R, C> {
  /** Records the request on the span; `self` is the SDK resource the method was called on. */
  request(span: Span, body: Json, self: unknown): void;
  /** In guard mode: how the guard reads the request's prompt texts. */
  guard?: RequestShape;
}

/**
 * Wraps a provider SDK's chat `create`: each call gets a chat span for the
 * body's model (`baseUrl` tells which endpoint the client talks to,
 * server.address), read by `reader`, whole or streamed.
 */
export function wrapCreate<R, C>(
  tracing: ShimTracing,
  provider: string,
  original: Create,
  baseUrl: (self: unknown) => string | undefined,
  reader: CreateReader<R, C>,
): Create {
  return function create(this: unknown, body: Json, options?: unknown): unknown {
    const hook = reader.guard === undefined ? undefined : guardOf(tracing);
    const guard = hook?.current();
    // Guard mode, still loading: the call waits for the guard (or fails, if it cannot load); never goes out unchecked.
    if (hook !== undefined && guard === undefined) return deferred(hook.ready, () => create.call(this, body, options));
    const span = startModelSpan(tracing, OPERATIONS.chat, provider, str(body?.model), baseUrl(this));
    let sent = body;
    if (guard !== undefined && reader.guard !== undefined) {
      try {
        sent = guard.request(span, reader.guard, body, provider);
      } catch (err) {
        // Blocked: the provider is never called.
        recordError(span, err, tracing.capture);
        span.end();
        return rejected(err);
      }
    }
    reader.request(span, sent, this);
    return traceCall(tracing, span, sent?.stream === true, reader, () => original.call(this, sent, options));
  };
}

type ApiPromise = PromiseLike<unknown> & { withResponse?: () => unknown; asResponse?: () => unknown };

/**
 * What `create` returns while the guard loads: a promise of the SDK call's result that also answers
 * `withResponse()` and `asResponse()` (the SDKs' own stream helpers call them), started once.
 */
function deferred(ready: Promise<void>, run: () => unknown): Promise<unknown> {
  const box = ready.then(() => ({ call: run() as ApiPromise }));
  const out = box.then((b) => b.call);
  out.catch(() => undefined);
  return Object.assign(out, {
    withResponse: () => box.then((b) => (b.call.withResponse ? b.call.withResponse() : b.call)),
    asResponse: () => box.then((b) => (b.call.asResponse ? b.call.asResponse() : b.call)),
  });
}

/** A rejected call, shaped like the SDKs' promises; a rejection nobody awaits is not an unhandled one. */
function rejected(err: unknown): Promise<never> {
  const out = Promise.reject(err instanceof Error ? err : new Error(String(err)));
  out.catch(() => undefined);
  return Object.assign(out, { withResponse: () => rejected(err), asResponse: () => rejected(err) });
}

/**
 * Runs one SDK call inside `span` and returns exactly what the SDK returned
 * (its APIPromise with `.withResponse()`, its Stream with `.tee()`): the
 * outcome is read by a side subscription, never by re-wrapping the result.
 * Nothing the shim does after the call can throw into the app.
 */
export function traceCall<R, C>(
  tracing: ShimTracing,
  span: Span,
  streaming: boolean,
  reader: CallReader<R, C>,
  invoke: () => unknown,
): unknown {
  let result: unknown;
  try {
    result = context.with(trace.setSpan(context.active(), span), invoke);
  } catch (err) {
    recordError(span, err, tracing.capture);
    span.end();
    throw err;
  }
  if (!isThenable(result)) {
    finishWith(tracing, span, streaming, reader, result);
    return result;
  }
  result.then(
    (value) => finishWith(tracing, span, streaming, reader, value),
    (err: unknown) => {
      recordError(span, err, tracing.capture);
      span.end();
    },
  );
  return result;
}

function finishWith<R, C>(
  tracing: ShimTracing,
  span: Span,
  streaming: boolean,
  reader: CallReader<R, C>,
  value: unknown,
): void {
  try {
    if (streaming && reader.stream && isAsyncIterable(value)) {
      const accumulator = reader.stream();
      observeStream(value as AsyncIterable<C>, {
        chunk: (chunk) => accumulator.chunk(span, chunk),
        end: (err) => {
          accumulator.finish(span);
          if (err !== undefined) recordError(span, err, tracing.capture);
          span.end();
        },
      });
      return;
    }
    reader.response(span, value as R);
  } catch {
    // A response of an unexpected shape leaves the span with what was read so far.
  }
  span.end();
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as { [Symbol.asyncIterator]?: unknown } | null)?.[Symbol.asyncIterator] === 'function';
}
