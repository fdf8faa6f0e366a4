import type { Readable } from 'node:stream';
import { Agent, errors, request as undiciRequest } from 'undici';
import type { DeliveryResult } from '../notification.ts';
import { DELIVERY_REASONS } from './errors.ts';

/** What came back from one HTTP request: an answer, or why there was none. */
export type HttpOutcome =
  | { kind: 'answer'; status: number; headers: Headers; body: string }
  | { kind: 'timeout' }
  | { kind: 'aborted' }
  | { kind: 'unreachable'; why: string };

/** Bodies of answers are read up to this many bytes: enough for any error message, bounded against a runaway receiver. */
export const MAX_ANSWER_BYTES = 64 * 1024;

export interface HttpRequest {
  url: string;
  method?: 'POST';
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  signal: AbortSignal;
}

/**
 * Connections kept open to each receiver and reused. undici's request API is what
 * Node's fetch is built on, without fetch's WHATWG stream and Response layers,
 * which cost more than the alerter itself per alert.
 */
const agent = new Agent({ keepAliveTimeout: 30_000, connections: 128 });

/** One request with a deadline; never throws for a network failure (that is an outcome). */
export async function request(req: HttpRequest): Promise<HttpOutcome> {
  // One controller, aborted by the caller's signal or the deadline: cheaper than AbortSignal.any per request.
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, req.timeoutMs);
  const onAbort = (): void => controller.abort();
  req.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const res = await undiciRequest(req.url, {
      method: req.method ?? 'POST',
      headers: req.headers,
      body: req.body,
      signal: controller.signal,
      dispatcher: agent,
    });
    const body = await readBounded(res.body);
    return { kind: 'answer', status: res.statusCode, headers: toHeaders(res.headers), body };
  } catch (err) {
    if (req.signal.aborted) return { kind: 'aborted' };
    if (timedOut || err instanceof errors.ConnectTimeoutError) return { kind: 'timeout' };
    return { kind: 'unreachable', why: networkReason(err) };
  } finally {
    clearTimeout(timer);
    req.signal.removeEventListener('abort', onAbort);
  }
}

async function readBounded(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.byteLength;
    if (size >= MAX_ANSWER_BYTES) {
      // A runaway answer: the connection is closed rather than read to its end.
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, MAX_ANSWER_BYTES).toString('utf8');
}

function toHeaders(raw: Record<string, string | string[] | undefined>): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
  }
  return headers;
}

function networkReason(err: unknown): string {
  const code = (err as { code?: string }).code;
  if (code && !code.startsWith('UND_ERR')) return code;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return cause.code;
  return cause?.message ?? (err instanceof Error ? err.message : String(err));
}

/**
 * Retry-After as milliseconds: delta-seconds or an HTTP-date (RFC 9110 §10.2.3);
 * undefined when absent or unreadable.
 */
export function retryAfterMs(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** The result for an outcome that never got an answer. */
export function noAnswerResult(
  what: string,
  outcome: Exclude<HttpOutcome, { kind: 'answer' }>,
  timeoutMs: number,
): DeliveryResult {
  switch (outcome.kind) {
    case 'timeout':
      return { ok: false, retryable: true, reason: DELIVERY_REASONS.timeout(what, timeoutMs) };
    case 'aborted':
      return { ok: false, retryable: true, reason: DELIVERY_REASONS.aborted(what) };
    case 'unreachable':
      return { ok: false, retryable: true, reason: DELIVERY_REASONS.unreachable(what, outcome.why) };
  }
}

export interface ClassifyOptions {
  /** The option naming the credentials, for 401/403 messages. */
  secretOption?: string;
  /** Wait for a 429 without Retry-After. */
  defaultRetryAfterMs?: number;
  now: number;
  /** A short detail from the answer's body. */
  detail?: string;
}

/**
 * The result for an HTTP answer, by the usual rules: 2xx delivered; 408, 429 and
 * 5xx retryable (honouring Retry-After); any other 4xx never (the request itself is wrong).
 */
export function classifyAnswer(
  what: string,
  status: number,
  headers: Headers,
  options: ClassifyOptions,
): DeliveryResult {
  const detail = options.detail ?? '';
  if (status >= 200 && status < 300) return { ok: true, status };
  const wait = retryAfterMs(headers.get('retry-after'), options.now);
  if (status === 429) {
    const after = wait ?? options.defaultRetryAfterMs;
    return {
      ok: false,
      retryable: true,
      status,
      reason: DELIVERY_REASONS.rateLimited(what, status),
      ...(after !== undefined ? { retryAfterMs: after } : {}),
    };
  }
  if (status >= 500 || status === 408) {
    return {
      ok: false,
      retryable: true,
      status,
      reason: DELIVERY_REASONS.serverError(what, status, detail),
      ...(wait !== undefined ? { retryAfterMs: wait } : {}),
    };
  }
  if ((status === 401 || status === 403) && options.secretOption) {
    return {
      ok: false,
      retryable: false,
      status,
      reason: DELIVERY_REASONS.unauthorized(what, status, options.secretOption),
    };
  }
  return { ok: false, retryable: false, status, reason: DELIVERY_REASONS.rejected(what, status, detail) };
}

/** A short, single-line excerpt of an answer's body for a reason. */
export function excerpt(body: string, max = 300): string {
  const line = body.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}
