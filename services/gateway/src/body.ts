import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';

const gunzipAsync = promisify(gunzip);

/** Why a request body could not be read, with the HTTP status OTLP/HTTP asks for. */
export class BodyError extends Error {
  readonly status: 400 | 413 | 415;
  readonly reason: 'too_large' | 'bad_encoding' | 'undecodable';

  constructor(status: 400 | 413 | 415, reason: BodyError['reason'], message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

/**
 * Reads a request body of at most `limit` bytes after decompression. The compressed
 * bytes are bounded by the same limit, and gzip is inflated by zlib with
 * `maxOutputLength`, which stops inflating as soon as the output passes the limit:
 * a gzip bomb costs at most `limit` bytes of memory and the time to inflate them.
 */
export async function readBody(stream: Readable, contentEncoding: string | undefined, limit: number): Promise<Buffer> {
  const encoding = (contentEncoding ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'x-gzip') {
    stream.resume();
    throw new BodyError(415, 'bad_encoding', `Content-Encoding ${encoding} is not supported; send gzip or no encoding`);
  }
  const raw = await readAtMost(stream, limit);
  if (encoding === 'identity') return raw;
  try {
    return await gunzipAsync(raw, { maxOutputLength: limit });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(limit, 'after decompression');
    throw new BodyError(400, 'undecodable', `the gzip body cannot be decompressed: ${(err as Error).message}`);
  }
}

/** Event listeners, not for-await: leaving a for-await early destroys the socket before the answer is sent. */
function readAtMost(stream: Readable, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      // Keep draining unread so the answer reaches a client that is still sending.
      stream.off('data', onData);
      stream.resume();
      chunks.length = 0;
      reject(tooLarge(limit, 'as sent'));
    };
    stream.on('data', onData);
    stream.once('error', reject);
    stream.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
  });
}

function tooLarge(limit: number, when: string): BodyError {
  return new BodyError(
    413,
    'too_large',
    `the request body is over ${limit} bytes ${when}; send smaller batches (the exporter's max export batch size)`,
  );
}
