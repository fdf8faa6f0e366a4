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

/** One request with a deadline; never throws for a network failure (that is an outcome). */
export async function request(req: HttpRequest): Promise<HttpOutcome> {
  const deadline = AbortSignal.timeout(req.timeoutMs);
  try {
    const res = await fetch(req.url, {
      method: req.method ?? 'POST',
      headers: req.headers,
      body: req.body,
      signal: AbortSignal.any([req.signal, deadline]),
      redirect: 'error',
    });
    const body = await readBounded(res);
    return { kind: 'answer', status: res.status, headers: res.headers, body };
  } catch (err) {
    if (req.signal.aborted) return { kind: 'aborted' };
    if (deadline.aborted) return { kind: 'timeout' };
    return { kind: 'unreachable', why: networkReason(err) };
  }
}

async function readBounded(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = (await reader.read()) as { done: boolean; value?: Uint8Array };
    if (done || !value) break;
    chunks.push(value);
    size += value.byteLength;
    if (size >= MAX_ANSWER_BYTES) {
      await reader.cancel();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, MAX_ANSWER_BYTES).toString('utf8');
}

function networkReason(err: unknown): string {
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
