import { context, trace, type Span } from '@opentelemetry/api';
import { OPERATIONS } from './attributes.ts';
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
    const span = startModelSpan(tracing, OPERATIONS.chat, provider, str(body?.model), baseUrl(this));
    reader.request(span, body, this);
    return traceCall(tracing, span, body?.stream === true, reader, () => original.call(this, body, options));
  };
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
