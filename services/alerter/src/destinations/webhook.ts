import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Destination, Notification } from '../notification.ts';
import { classifyAnswer, excerpt, noAnswerResult, request } from './http.ts';
import { durationMs, httpUrl, parseOptions, resolveSecret, secretRef, type DestinationConfig } from './options.ts';

/**
 * A generic webhook: POST of the notification as JSON, signed.
 *
 * Signature scheme (for receivers): the request carries
 *   X-Aispm-Timestamp: <unix seconds>
 *   X-Aispm-Signature: sha256=<hex HMAC-SHA256 with the shared secret over "<timestamp>.<raw body>">
 * A receiver recomputes the HMAC over the raw body bytes as received, compares in
 * constant time, and refuses a timestamp far from its clock (replays):
 * `verifyWebhookSignature` does all three.
 */
export const WEBHOOK_HEADERS = { timestamp: 'x-aispm-timestamp', signature: 'x-aispm-signature' } as const;

export const webhookOptions = z.object({
  url: httpUrl,
  secret_env: secretRef.env,
  secret_file: secretRef.file,
  timeout_ms: durationMs(10_000),
});

/** The JSON body: the notification without its link function, with each finding's drill-down link when there is one. */
export function webhookBody(notification: Notification): string {
  const { linkOf, ...rest } = notification;
  const links: Record<string, string> = {};
  if (linkOf) {
    for (const f of notification.findings) {
      const link = linkOf(f);
      if (link) links[f.id] = link;
    }
  }
  return JSON.stringify({ ...rest, links });
}

export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

/** Checks a received webhook: the signature over "<timestamp>.<body>" and the timestamp within `toleranceSec` of `nowMs`. */
export function verifyWebhookSignature(input: {
  secret: string;
  body: string | Buffer;
  timestamp: string | undefined;
  signature: string | undefined;
  nowMs?: number;
  toleranceSec?: number;
}): SignatureCheck {
  const { timestamp, signature } = input;
  if (!timestamp || !/^\d+$/.test(timestamp)) return { ok: false, reason: 'missing or malformed X-Aispm-Timestamp' };
  if (!signature?.startsWith('sha256=')) return { ok: false, reason: 'missing or malformed X-Aispm-Signature' };
  const skew = Math.abs((input.nowMs ?? Date.now()) / 1000 - Number(timestamp));
  if (skew > (input.toleranceSec ?? 300)) return { ok: false, reason: `timestamp is ${Math.round(skew)} s from now` };
  const body = typeof input.body === 'string' ? input.body : input.body.toString('utf8');
  const expected = Buffer.from(webhookSignature(input.secret, timestamp, body));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given))
    return { ok: false, reason: 'signature does not match' };
  return { ok: true };
}

export function createWebhook(
  config: DestinationConfig,
  env: NodeJS.ProcessEnv,
  deps: { now?: () => number } = {},
): Destination {
  const options = parseOptions(config, webhookOptions, ['secret']);
  const secret = resolveSecret(
    config.name,
    'secret',
    { env: options.secret_env, file: options.secret_file },
    env,
    true,
  );
  const now = deps.now ?? Date.now;
  const what = `webhook destination ${config.name}`;
  return {
    name: config.name,
    kind: 'webhook',
    async send(notification, signal) {
      const body = webhookBody(notification);
      const timestamp = String(Math.floor(now() / 1000));
      const outcome = await request({
        url: options.url,
        headers: {
          'content-type': 'application/json',
          [WEBHOOK_HEADERS.timestamp]: timestamp,
          [WEBHOOK_HEADERS.signature]: webhookSignature(secret, timestamp, body),
        },
        body,
        timeoutMs: options.timeout_ms,
        signal,
      });
      if (outcome.kind !== 'answer') return noAnswerResult(what, outcome, options.timeout_ms);
      return classifyAnswer(what, outcome.status, outcome.headers, { now: now(), detail: excerpt(outcome.body) });
    },
    async close() {},
  };
}
