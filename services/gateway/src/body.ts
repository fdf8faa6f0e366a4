import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { gatewayError, type GatewayError } from './errors.ts';

const gunzipAsync = promisify(gunzip);

/** What one body may take: bytes, time, and the bytes its request may hold (its Slot). */
export interface BodyLimits {
  /** Most bytes after decompression (and as sent). */
  limit: number;
  /** Longest pause between two pieces of the body. */
  idleMs: number;
  /** performance.now() by which the whole body must have arrived. */
  deadline: number;
  /** Holds bytes more; the refusal when that passes the request's bounds (Slot.charge). */
  charge: (bytes: number) => GatewayError | null;
  /** Bytes the request may still hold (Slot.headroom). */
  headroom: () => number;
  /** Holds exactly this many bytes from now on (Slot.hold). */
  hold: (bytes: number) => void;
}

/**
 * Reads a request body of at most `limit` bytes after decompression, within the idle and
 * total timeouts (408 past them), holding what it reads against the request's byte
 * bounds (429 past them). The compressed bytes are bounded by the same limit, and gzip is
 * inflated on libuv's thread pool (never the main thread) with `maxOutputLength`, which
 * stops inflating as soon as the output passes the limit, or the bytes the request may
 * still hold: a gzip bomb costs at most `limit` bytes of memory and the time to inflate them.
 * Throws a GatewayError.
 */
export async function readBody(
  stream: Readable,
  contentEncoding: string | undefined,
  limits: BodyLimits,
): Promise<Buffer> {
  const encoding = (contentEncoding ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'x-gzip') {
    stream.resume();
    throw gatewayError('unsupported_encoding', encoding);
  }
  const raw = await readAtMost(stream, limits);
  if (encoding === 'identity') return raw;
  // Inflating holds its output; reserve what it may grow to, so bodies inflating at once stay within the bounds.
  const reserve = Math.min(limits.limit, limits.headroom());
  const refused = reserve === 0 ? limits.charge(1) : limits.charge(reserve);
  if (refused) throw refused;
  try {
    const inflated = await gunzipAsync(raw, { maxOutputLength: reserve });
    limits.hold(inflated.length);
    return inflated;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') {
      throw gatewayError('body_undecodable', `the gzip body cannot be decompressed: ${(err as Error).message}`);
    }
    if (reserve >= limits.limit) throw gatewayError('body_too_large', limits.limit, 'after decompression');
    // It might fit the limit, but not what this request may hold now: busy, not too large.
    throw limits.charge(limits.limit) ?? gatewayError('gateway_bytes', limits.limit);
  }
}

/** Event listeners, not for-await: leaving a for-await early destroys the socket before the answer is sent. */
function readAtMost(stream: Readable, limits: BodyLimits): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const total = setTimeout(
      () => stop(gatewayError('body_timeout', 'the request body did not arrive in time')),
      Math.max(0, limits.deadline - performance.now()),
    );
    // Re-armed by each piece (refresh() restarts it without a new timer).
    const idle = setTimeout(
      () => stop(gatewayError('body_timeout', `the request body paused for over ${limits.idleMs} ms`)),
      limits.idleMs,
    );
    const settle = (): void => {
      clearTimeout(idle);
      clearTimeout(total);
      stream.off('data', onData);
      stream.off('error', onError);
      stream.off('end', onEnd);
    };
    /** Stops reading; what is still coming is drained unread, so the answer reaches a client that is still sending. */
    const stop = (err: GatewayError): void => {
      settle();
      stream.resume();
      chunks.length = 0;
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limits.limit) return stop(gatewayError('body_too_large', limits.limit, 'as sent'));
      const refused = limits.charge(chunk.length);
      if (refused) return stop(refused);
      chunks.push(chunk);
      idle.refresh();
    };
    const onError = (err: Error): void => {
      settle();
      reject(err);
    };
    const onEnd = (): void => {
      settle();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    stream.on('data', onData);
    stream.once('error', onError);
    stream.once('end', onEnd);
  });
}
