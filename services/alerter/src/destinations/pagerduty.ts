import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Finding, Severity } from '@aispm/core';
import type { DeliveryResult, Destination, Notification } from '../notification.ts';
import { DELIVERY_REASONS } from './errors.ts';
import { classifyAnswer, excerpt, noAnswerResult, request } from './http.ts';
import { durationMs, httpUrl, parseOptions, resolveSecret, secretRef, type DestinationConfig } from './options.ts';
import { RecentlySent } from './recent.ts';
import { Buckets } from './token-bucket.ts';
import { isoOfMicros, truncate } from './text.ts';

/**
 * PagerDuty Events API v2 (developer.pagerduty.com, "Send an Alert Event"): one
 * event per finding; trigger for open, acknowledge for suppressed, resolve for
 * resolved, `dedup_key` the finding id so PagerDuty folds repeats into one alert
 * and a resolve closes it. Limits it documents: dedup_key ≤ 255 characters,
 * summary ≤ 1024, a payload ≤ 512 KB, about 120 events a minute per integration key.
 */
export const PAGERDUTY_LIMITS = {
  dedupKeyChars: 255,
  summaryChars: 1024,
  eventBytes: 512 * 1024,
  eventsPerMinute: 120,
} as const;

export const PAGERDUTY_SEVERITY: Readonly<Record<Severity, 'critical' | 'error' | 'warning' | 'info'>> = {
  critical: 'critical',
  high: 'error',
  medium: 'warning',
  low: 'info',
  info: 'info',
};

export const pagerDutyOptions = z.object({
  url: httpUrl.default('https://events.pagerduty.com/v2/enqueue'),
  routing_key_env: secretRef.env,
  routing_key_file: secretRef.file,
  /** payload.source when the asset is empty; the asset otherwise. */
  source: z.string().min(1).default('aispm'),
  client_url: httpUrl.optional(),
  timeout_ms: durationMs(10_000),
  /** The wait after a 429 without Retry-After: PagerDuty asks for a backoff of tens of seconds. */
  retry_after_ms: durationMs(30_000),
  /** The client-side budget per routing key (PagerDuty's own limit is about 120/min). */
  events_per_minute: z.number().int().positive().max(100_000).default(PAGERDUTY_LIMITS.eventsPerMinute),
});
export type PagerDutyOptions = z.infer<typeof pagerDutyOptions>;

export interface PagerDutyEvent {
  routing_key: string;
  event_action: 'trigger' | 'acknowledge' | 'resolve';
  dedup_key: string;
  client?: string;
  client_url?: string;
  links?: { href: string; text: string }[];
  payload?: {
    summary: string;
    source: string;
    severity: 'critical' | 'error' | 'warning' | 'info';
    timestamp: string;
    component: string;
    group: string;
    class: string;
    custom_details: Record<string, unknown>;
  };
}

/** The finding id is already tenant-scoped (a digest over tenant, type, asset, rule); a longer id is digested to fit. */
export function dedupKeyOf(finding: Finding): string {
  return finding.id.length <= PAGERDUTY_LIMITS.dedupKeyChars
    ? finding.id
    : createHash('sha256').update(finding.id).digest('hex');
}

/** The event for one finding of a notification; pure. */
export function pagerDutyEvent(
  finding: Finding,
  notification: Notification,
  routingKey: string,
  options: Pick<PagerDutyOptions, 'source' | 'client_url'>,
): PagerDutyEvent {
  const action =
    finding.status === 'resolved' ? 'resolve' : finding.status === 'suppressed' ? 'acknowledge' : 'trigger';
  const event: PagerDutyEvent = { routing_key: routingKey, event_action: action, dedup_key: dedupKeyOf(finding) };
  if (action !== 'trigger') return event;
  const link = notification.linkOf?.(finding);
  event.client = 'aispm';
  if (options.client_url) event.client_url = options.client_url;
  if (link) event.links = [{ href: link, text: 'Open in Grafana' }];
  event.payload = {
    summary: truncate(`[${finding.severity}] ${finding.title} (${finding.asset})`, PAGERDUTY_LIMITS.summaryChars),
    source: finding.asset || options.source,
    severity: PAGERDUTY_SEVERITY[finding.severity],
    timestamp: isoOfMicros(finding.last_seen),
    component: finding.asset_type,
    group: finding.tenant,
    class: finding.type,
    custom_details: {
      tenant: finding.tenant,
      finding_id: finding.id,
      route: notification.route,
      rule: finding.rule,
      score: finding.score,
      model: finding.model,
      evidence: finding.evidence,
      owasp_llm: finding.owasp_llm,
      owasp_agentic: finding.owasp_agentic,
      mitre_atlas: finding.mitre_atlas,
      event_ids: finding.event_ids,
      occurrences: finding.occurrences,
      first_seen: isoOfMicros(finding.first_seen),
      last_seen: isoOfMicros(finding.last_seen),
      ...(link ? { grafana: link } : {}),
    },
  };
  return fitEvent(event);
}

const bytesOf = (event: PagerDutyEvent) => Buffer.byteLength(JSON.stringify(event), 'utf8');

/**
 * Keeps the event within 512 KB: evidence lines are cut to 1 KB, then evidence and
 * event ids are halved until it fits, then custom_details is reduced to the ids.
 */
export function fitEvent(event: PagerDutyEvent): PagerDutyEvent {
  if (!event.payload || bytesOf(event) <= PAGERDUTY_LIMITS.eventBytes) return event;
  const details = { ...event.payload.custom_details };
  const fitted = { ...event, payload: { ...event.payload, custom_details: details } };
  let evidence = (details.evidence as string[]).map((e) => truncate(e, 1024));
  let eventIds = details.event_ids as string[];
  const total = evidence.length;
  details.evidence = evidence;
  while (bytesOf(fitted) > PAGERDUTY_LIMITS.eventBytes && (evidence.length > 0 || eventIds.length > 0)) {
    evidence = evidence.slice(0, Math.floor(evidence.length / 2));
    eventIds = eventIds.slice(0, Math.floor(eventIds.length / 2));
    details.evidence = evidence;
    details.event_ids = eventIds;
    details.evidence_trimmed = `${evidence.length} of ${total} evidence lines kept to fit PagerDuty's 512 KB limit`;
  }
  if (bytesOf(fitted) > PAGERDUTY_LIMITS.eventBytes) {
    fitted.payload.custom_details = { tenant: details.tenant, finding_id: details.finding_id, trimmed: true };
  }
  return fitted;
}

/** The default budgets, shared by every PagerDuty destination in the process. */
const SHARED_BUCKETS = new Buckets();

export interface PagerDutyDeps {
  now?: () => number;
  buckets?: Buckets;
}

export function createPagerDuty(
  config: DestinationConfig,
  env: NodeJS.ProcessEnv,
  deps: PagerDutyDeps = {},
): Destination {
  const options = parseOptions(config, pagerDutyOptions, ['routing_key']);
  const routingKey = resolveSecret(
    config.name,
    'routing_key',
    { env: options.routing_key_env, file: options.routing_key_file },
    env,
    true,
  );
  const now = deps.now ?? Date.now;
  const perMinute = options.events_per_minute;
  const buckets = deps.buckets ?? SHARED_BUCKETS;
  const bucketKey = createHash('sha256').update(routingKey).digest('hex');
  const sent = new RecentlySent();
  const what = `PagerDuty destination ${config.name}`;

  async function sendOne(event: PagerDutyEvent, signal: AbortSignal): Promise<DeliveryResult> {
    const body = JSON.stringify(event);
    const memo = createHash('sha256').update(body).digest('hex');
    if (sent.has(memo, now())) return { ok: true, detail: 'sent already' };
    const taken = buckets.take(bucketKey, now(), perMinute, perMinute);
    if (!taken.ok) {
      return {
        ok: false,
        retryable: true,
        reason: DELIVERY_REASONS.clientLimit(what, perMinute),
        retryAfterMs: taken.waitMs,
      };
    }
    const outcome = await request({
      url: options.url,
      headers: { 'content-type': 'application/json' },
      body,
      timeoutMs: options.timeout_ms,
      signal,
    });
    if (outcome.kind !== 'answer') return noAnswerResult(what, outcome, options.timeout_ms);
    const result = classifyAnswer(what, outcome.status, outcome.headers, {
      now: now(),
      defaultRetryAfterMs: options.retry_after_ms,
      secretOption: 'routing_key_env / routing_key_file',
      detail: excerpt(outcome.body),
    });
    if (result.ok) sent.add(memo, now());
    return result;
  }

  return {
    name: config.name,
    kind: 'pagerduty',
    async send(notification, signal) {
      let delivered = 0;
      for (const finding of notification.findings) {
        const result = await sendOne(pagerDutyEvent(finding, notification, routingKey, options), signal);
        if (!result.ok) return result;
        delivered += 1;
      }
      return { ok: true, status: 202, detail: `${delivered} events accepted` };
    },
    async close() {},
  };
}
