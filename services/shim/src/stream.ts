/** Receives what a streamed response yields, and how the stream ended. */
export interface StreamObserver<T> {
  chunk(chunk: T): void;
  /** Called once: when the stream ends, fails, or the consumer stops early. */
  end(err?: unknown): void;
}

/**
 * Observes a provider SDK's stream object in place: its async iterator is
 * replaced by one that reports each chunk, so the object the app receives
 * (with its own helpers such as `tee()`, `controller`) stays the SDK's own.
 * An observer that throws is ignored: telemetry must never break the app.
 */
export function observeStream<T>(stream: AsyncIterable<T>, observer: StreamObserver<T>): void {
  const iterate = stream[Symbol.asyncIterator].bind(stream);
  let ended = false;
  const finish = (err?: unknown): void => {
    if (ended) return;
    ended = true;
    safely(() => observer.end(err));
  };
  Object.defineProperty(stream, Symbol.asyncIterator, {
    configurable: true,
    writable: true,
    value: (): AsyncIterator<T> => {
      const inner = iterate();
      return {
        async next(): Promise<IteratorResult<T>> {
          try {
            const result = await inner.next();
            if (result.done) finish();
            else safely(() => observer.chunk(result.value));
            return result;
          } catch (err) {
            finish(err);
            throw err;
          }
        },
        async return(value?: unknown): Promise<IteratorResult<T>> {
          finish();
          return inner.return ? inner.return(value) : { done: true, value: undefined };
        },
        async throw(err?: unknown): Promise<IteratorResult<T>> {
          finish(err);
          if (inner.throw) return inner.throw(err);
          throw err;
        },
      };
    },
  });
}

/** Runs a telemetry step (reading a chunk, a result); its failure stays inside the shim, never reaching the app. */
export function safely(action: () => void): void {
  try {
    action();
  } catch {
    // Telemetry failures stay inside the shim.
  }
}
