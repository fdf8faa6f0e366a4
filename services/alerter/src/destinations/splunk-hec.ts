import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { toOcsfDetectionFinding, type Finding } from '@aispm/core';
import type { DeliveryResult, Destination, Notification } from '../notification.ts';
import { DELIVERY_REASONS } from './errors.ts';
import { classifyAnswer, excerpt, noAnswerResult, request } from './http.ts';
import { durationMs, httpUrl, parseOptions, resolveSecret, secretRef, type DestinationConfig } from './options.ts';
import { RecentlySent } from './recent.ts';

/**
 * Splunk HTTP Event Collector: events batched into one request to
 * /services/collector/event (`Authorization: Splunk <token>`), with optional
 * indexer acknowledgement: a channel GUID on every request, the `ackId` of each
 * accepted batch polled at /services/collector/ack until Splunk reports it indexed.
 */
export const splunkHecOptions = z.object({
  /** The collector's base URL, e.g. https://splunk.example.com:8088. */
  url: httpUrl,
  token_env: secretRef.env,
  token_file: secretRef.file,
  index: z.string().min(1).optional(),
  source: z.string().min(1).default('aispm'),
  sourcetype: z.string().min(1).default('aispm:finding'),
  host: z.string().min(1).default(hostname()),
  /** `event` as an OCSF Detection Finding (class 2004) or as the Finding's own JSON. */
  format: z.enum(['ocsf', 'json']).default('ocsf'),
  /** Wait for indexer acknowledgement (the token must have it enabled). */
  ack: z.boolean().default(false),
  ack_timeout_ms: durationMs(30_000),
  ack_poll_ms: durationMs(500),
  /** The channel GUID; a fresh one per process by default. */
  channel: z.string().uuid('write a GUID such as 0b6a3a5e-4f0c-4b8e-9a77-2f4f5a0e8c1d').optional(),
  /** A batch larger than this is split into several requests. */
  max_batch_bytes: z.number().int().positive().default(1_000_000),
  timeout_ms: durationMs(10_000),
});
export type SplunkHecOptions = z.infer<typeof splunkHecOptions>;

/**
 * HEC's documented status `code` values, and whether a request answered so can
 * succeed if sent again. Token and data problems never will (dead-letter them);
 * a busy or unhealthy server will.
 */
export const HEC_CODES: Readonly<Record<number, { meaning: string; retryable: boolean }>> = {
  0: { meaning: 'Success', retryable: false },
  1: { meaning: 'Token disabled', retryable: false },
  2: { meaning: 'Token is required', retryable: false },
  3: { meaning: 'Invalid authorization', retryable: false },
  4: { meaning: 'Invalid token', retryable: false },
  5: { meaning: 'No data', retryable: false },
  6: { meaning: 'Invalid data format', retryable: false },
  7: { meaning: 'Incorrect index', retryable: false },
  8: { meaning: 'Internal server error', retryable: true },
  9: { meaning: 'Server is busy', retryable: true },
  10: { meaning: 'Data channel is missing', retryable: false },
  11: { meaning: 'Invalid data channel', retryable: false },
  12: { meaning: 'Event field is required', retryable: false },
  13: { meaning: 'Event field cannot be blank', retryable: false },
  14: { meaning: 'ACK is disabled', retryable: false },
  15: { meaning: 'Error in handling indexed fields', retryable: false },
  16: { meaning: 'Query string authorization is not enabled', retryable: false },
  17: { meaning: 'HEC is healthy', retryable: false },
  18: { meaning: 'HEC is unhealthy, queues are full', retryable: true },
  19: { meaning: 'HEC is unhealthy, ack service unavailable', retryable: true },
  20: { meaning: 'HEC is unhealthy, queues are full', retryable: true },
  21: { meaning: 'Invalid token', retryable: false },
  22: { meaning: 'Token disabled', retryable: false },
  23: { meaning: 'Server is shutting down', retryable: true },
  24: { meaning: 'Queue capacity exceeded', retryable: true },
};

/** What to do about a code that cannot succeed as sent. */
const HEC_ADVICE: Readonly<Record<number, string>> = {
  1: 'enable the token in Splunk',
  2: 'set token_env or token_file',
  3: 'check the token named by token_env / token_file',
  4: 'check the token named by token_env / token_file',
  7: 'set index to one the token may write to, or allow the index on the token',
  10: 'the token needs a channel: set ack: true',
  11: 'set channel to a GUID',
  14: 'enable indexer acknowledgement on the token, or set ack: false',
};

export interface HecEvent {
  time: number;
  host: string;
  source: string;
  sourcetype: string;
  index?: string;
  fields: Record<string, string | string[]>;
  event: unknown;
}

/** The HEC event for one finding; pure. `time` is epoch seconds with the fraction. */
export function hecEvent(finding: Finding, notification: Notification, options: SplunkHecOptions): HecEvent {
  const link = notification.linkOf?.(finding);
  const fields: Record<string, string | string[]> = {
    tenant: finding.tenant,
    severity: finding.severity,
    type: finding.type,
    rule: finding.rule,
    status: finding.status,
    asset: finding.asset,
    asset_type: finding.asset_type,
    finding_id: finding.id,
    route: notification.route,
  };
  const frameworks = [...finding.owasp_llm, ...finding.owasp_agentic, ...finding.mitre_atlas];
  if (frameworks.length > 0) fields.framework = frameworks;
  const event =
    options.format === 'ocsf'
      ? toOcsfDetectionFinding(finding)
      : { ...finding, route: notification.route, ...(link ? { link } : {}) };
  return {
    time: finding.last_seen / 1_000_000,
    host: options.host,
    source: options.source,
    sourcetype: options.sourcetype,
    ...(options.index ? { index: options.index } : {}),
    fields,
    event,
  };
}

/** Batches of newline-separated events, each batch at most `maxBytes` (an event larger than that goes alone). */
export function hecBatches(events: readonly HecEvent[], maxBytes: number): string[] {
  const batches: string[] = [];
  let lines: string[] = [];
  let size = 0;
  for (const e of events) {
    const line = JSON.stringify(e);
    const bytes = Buffer.byteLength(line) + 1;
    if (lines.length > 0 && size + bytes > maxBytes) {
      batches.push(lines.join('\n'));
      lines = [];
      size = 0;
    }
    lines.push(line);
    size += bytes;
  }
  if (lines.length > 0) batches.push(lines.join('\n'));
  return batches;
}

interface HecAnswer {
  code?: number;
  text?: string;
  ackId?: number;
  'invalid-event-number'?: number;
}

function parseAnswer(body: string): HecAnswer {
  try {
    const parsed = JSON.parse(body) as unknown;
    return parsed && typeof parsed === 'object' ? parsed : {};
  } catch {
    return {};
  }
}

/** The result for an HEC answer: its `code` decides when present, the HTTP status otherwise. */
export function classifyHec(what: string, status: number, headers: Headers, body: string, now: number): DeliveryResult {
  const answer = parseAnswer(body);
  const code = answer.code;
  if (status >= 200 && status < 300 && (code === undefined || code === 0)) return { ok: true, status };
  const known = code === undefined ? undefined : HEC_CODES[code];
  if (!known) {
    return classifyAnswer(what, status, headers, {
      now,
      secretOption: 'token_env / token_file',
      detail: excerpt(body),
    });
  }
  const detail = `HEC code ${code} ${answer.text ?? known.meaning}${
    answer['invalid-event-number'] !== undefined ? ` (event ${answer['invalid-event-number']})` : ''
  }`;
  if (known.retryable) {
    const wait = classifyAnswer(what, status >= 500 || status === 429 ? status : 503, headers, { now });
    return {
      ok: false,
      retryable: true,
      status,
      reason: DELIVERY_REASONS.serverError(what, status, detail),
      ...(!wait.ok && wait.retryable && wait.retryAfterMs !== undefined ? { retryAfterMs: wait.retryAfterMs } : {}),
    };
  }
  const advice = HEC_ADVICE[code!];
  return {
    ok: false,
    retryable: false,
    status,
    reason: DELIVERY_REASONS.rejected(what, status, advice ? `${detail}; ${advice}` : detail),
  };
}

export interface SplunkHecDeps {
  now?: () => number;
}

export function createSplunkHec(
  config: DestinationConfig,
  env: NodeJS.ProcessEnv,
  deps: SplunkHecDeps = {},
): Destination {
  const options = parseOptions(config, splunkHecOptions, ['token']);
  const token = resolveSecret(config.name, 'token', { env: options.token_env, file: options.token_file }, env, true);
  const now = deps.now ?? Date.now;
  const channel = options.channel ?? randomUUID();
  const base = options.url.replace(/\/+$/, '');
  const headers: Record<string, string> = {
    authorization: `Splunk ${token}`,
    'content-type': 'application/json',
    ...(options.ack ? { 'x-splunk-request-channel': channel } : {}),
  };
  const sent = new RecentlySent();
  const what = `Splunk HEC destination ${config.name}`;

  async function waitForAck(ackId: number, signal: AbortSignal): Promise<DeliveryResult> {
    const deadline = now() + options.ack_timeout_ms;
    for (;;) {
      const outcome = await request({
        url: `${base}/services/collector/ack?channel=${channel}`,
        headers,
        body: JSON.stringify({ acks: [ackId] }),
        timeoutMs: options.timeout_ms,
        signal,
      });
      if (outcome.kind === 'aborted') return noAnswerResult(what, outcome, options.timeout_ms);
      if (outcome.kind === 'answer') {
        const answer = parseAnswer(outcome.body) as { acks?: Record<string, boolean> } & HecAnswer;
        if (answer.acks?.[String(ackId)] === true)
          return { ok: true, status: outcome.status, detail: `ack ${ackId} indexed` };
        if (!(outcome.status >= 200 && outcome.status < 300)) {
          const result = classifyHec(`${what} (ack)`, outcome.status, outcome.headers, outcome.body, now());
          if (!result.ok && !result.retryable) return result;
        }
      }
      if (now() + options.ack_poll_ms > deadline) {
        return {
          ok: false,
          retryable: true,
          reason: `${what}: ack ${ackId} was not reported indexed within ${options.ack_timeout_ms} ms (ack_timeout_ms); the batch is sent again`,
        };
      }
      try {
        await sleep(options.ack_poll_ms, undefined, { signal });
      } catch {
        return noAnswerResult(what, { kind: 'aborted' }, options.timeout_ms);
      }
    }
  }

  async function sendBatch(body: string, signal: AbortSignal): Promise<DeliveryResult> {
    const memo = createHash('sha256').update(body).digest('hex');
    if (sent.has(memo, now())) return { ok: true, detail: 'sent already' };
    const outcome = await request({
      url: `${base}/services/collector/event`,
      headers,
      body,
      timeoutMs: options.timeout_ms,
      signal,
    });
    if (outcome.kind !== 'answer') return noAnswerResult(what, outcome, options.timeout_ms);
    const result = classifyHec(what, outcome.status, outcome.headers, outcome.body, now());
    if (!result.ok) return result;
    if (options.ack) {
      const ackId = parseAnswer(outcome.body).ackId;
      if (typeof ackId !== 'number') {
        return {
          ok: false,
          retryable: false,
          status: outcome.status,
          reason: DELIVERY_REASONS.rejected(
            what,
            outcome.status,
            'no ackId in the answer; enable indexer acknowledgement on the token, or set ack: false',
          ),
        };
      }
      const acked = await waitForAck(ackId, signal);
      if (!acked.ok) return acked;
    }
    sent.add(memo, now());
    return result;
  }

  return {
    name: config.name,
    kind: 'splunk_hec',
    async send(notification, signal) {
      const events = notification.findings.map((f) => hecEvent(f, notification, options));
      const batches = hecBatches(events, options.max_batch_bytes);
      for (const batch of batches) {
        const result = await sendBatch(batch, signal);
        if (!result.ok) return result;
      }
      return {
        ok: true,
        status: 200,
        detail: `${events.length} events in ${batches.length} batches${options.ack ? ', indexed' : ''}`,
      };
    },
    async close() {},
  };
}
