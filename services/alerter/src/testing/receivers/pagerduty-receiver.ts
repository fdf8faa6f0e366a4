import { HttpReceiver, type Answer, type ReceivedRequest } from './http-receiver.ts';

/**
 * A local stand-in for PagerDuty's Events API v2 (POST /v2/enqueue) that checks
 * each event against the documented schema and limits ("Send an Alert Event",
 * "Events API v2 Overview", "Events API Rate Limits" on developer.pagerduty.com):
 * routing_key the 32-character integration key, event_action trigger / acknowledge /
 * resolve, dedup_key ≤ 255 characters (required to acknowledge or resolve), for a
 * trigger a payload with summary (≤ 1024), source and severity (critical, error,
 * warning, info), an ISO 8601 timestamp, custom_details an object, links with href;
 * the whole event ≤ 512 KB. Answers as PagerDuty does: 202 with the dedup_key, 400
 * "invalid event" with the errors, 429 past the per-key rate limit when one is set.
 * It keeps alerts by dedup_key as PagerDuty does: a trigger opens (or adds to) an
 * alert, acknowledge and resolve apply to an open one and are dropped otherwise.
 */
export interface PagerDutyReceiverOptions {
  /** The integration key events must carry. */
  routingKey: string;
  /** Answer 429 past this many events in the last 60 s per routing key (unset: no limit). */
  eventsPerMinute?: number;
}

export interface PagerDutyAlert {
  dedupKey: string;
  status: 'triggered' | 'acknowledged' | 'resolved';
  triggers: number;
  summary: string;
  severity: string;
}

const TOP_LEVEL = new Set([
  'routing_key',
  'event_action',
  'dedup_key',
  'payload',
  'images',
  'links',
  'client',
  'client_url',
]);
const PAYLOAD = new Set([
  'summary',
  'source',
  'severity',
  'timestamp',
  'component',
  'group',
  'class',
  'custom_details',
]);
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/;
const MAX_ALERTS = 100_000;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';

/** The schema's errors for one event body; empty when valid. */
export function pagerDutyEventErrors(body: string, routingKey: string): string[] {
  if (Buffer.byteLength(body) > 512 * 1024) return ['event is larger than 512 KB'];
  let event: unknown;
  try {
    event = JSON.parse(body);
  } catch {
    return ['body is not valid JSON'];
  }
  if (!isObject(event)) return ['event must be a JSON object'];
  const errors: string[] = [];
  for (const k of Object.keys(event)) if (!TOP_LEVEL.has(k)) errors.push(`unknown field ${k}`);
  if (!isString(event.routing_key) || event.routing_key.length !== 32)
    errors.push('routing_key must be the 32-character integration key');
  else if (event.routing_key !== routingKey) errors.push('routing_key is not a known integration key');
  const action = event.event_action;
  if (action !== 'trigger' && action !== 'acknowledge' && action !== 'resolve') {
    errors.push('event_action must be trigger, acknowledge or resolve');
  }
  if (
    event.dedup_key !== undefined &&
    (!isString(event.dedup_key) || event.dedup_key.length === 0 || event.dedup_key.length > 255)
  ) {
    errors.push('dedup_key must be a string of at most 255 characters');
  }
  if ((action === 'acknowledge' || action === 'resolve') && event.dedup_key === undefined) {
    errors.push(`dedup_key is required to ${action}`);
  }
  if (action === 'trigger') {
    const p = event.payload;
    if (!isObject(p)) {
      errors.push('payload is required for a trigger');
    } else {
      for (const k of Object.keys(p)) if (!PAYLOAD.has(k)) errors.push(`unknown field payload.${k}`);
      if (!isString(p.summary) || p.summary.length === 0 || p.summary.length > 1024) {
        errors.push('payload.summary must be 1 to 1024 characters');
      }
      if (!isString(p.source) || p.source.length === 0) errors.push('payload.source is required');
      if (!['critical', 'error', 'warning', 'info'].includes(p.severity as string)) {
        errors.push('payload.severity must be critical, error, warning or info');
      }
      if (
        p.timestamp !== undefined &&
        (!isString(p.timestamp) || !ISO_8601.test(p.timestamp) || Number.isNaN(Date.parse(p.timestamp)))
      ) {
        errors.push('payload.timestamp must be an ISO 8601 timestamp');
      }
      for (const k of ['component', 'group', 'class'] as const) {
        if (p[k] !== undefined && !isString(p[k])) errors.push(`payload.${k} must be a string`);
      }
      if (p.custom_details !== undefined && !isObject(p.custom_details))
        errors.push('payload.custom_details must be an object');
    }
  }
  if (event.links !== undefined) {
    if (!Array.isArray(event.links)) errors.push('links must be an array');
    else
      for (const l of event.links as unknown[]) {
        if (!isObject(l) || !isString(l.href) || (l.text !== undefined && !isString(l.text))) {
          errors.push('each link needs href (and text, if any, a string)');
        }
      }
  }
  if (event.images !== undefined) {
    if (!Array.isArray(event.images)) errors.push('images must be an array');
    else
      for (const i of event.images as unknown[]) {
        if (!isObject(i) || !isString(i.src) || !i.src.startsWith('https://'))
          errors.push('each image needs an https src');
      }
  }
  return errors;
}

export class PagerDutyReceiver {
  /** Events accepted, in order. */
  readonly events: Record<string, unknown>[] = [];
  readonly alerts = new Map<string, PagerDutyAlert>();
  /** Answers given: 202s, 400s with their errors, 429s. */
  readonly answers: { status: number; errors?: string[] }[] = [];
  http!: HttpReceiver;
  readonly #recent = new Map<string, number[]>();

  private constructor() {}

  static async start(options: PagerDutyReceiverOptions): Promise<PagerDutyReceiver> {
    const self = new PagerDutyReceiver();
    self.http = await HttpReceiver.start((req) => self.handle(req, options));
    return self;
  }

  /** The enqueue URL, as `url` of a pagerduty destination. */
  get url(): string {
    return `${this.http.url}/v2/enqueue`;
  }

  handle(req: ReceivedRequest, options: PagerDutyReceiverOptions): Answer {
    const answer = this.#answer(req, options);
    this.answers.push({ status: answer.status, ...(answer.errors ? { errors: answer.errors } : {}) });
    return { status: answer.status, body: answer.body };
  }

  #answer(
    req: ReceivedRequest,
    options: PagerDutyReceiverOptions,
  ): { status: number; body: string; errors?: string[] } {
    if (req.method !== 'POST' || req.path !== '/v2/enqueue') return { status: 404, body: '{"message":"not found"}' };
    const invalid = (errors: string[]) => ({
      status: 400,
      errors,
      body: JSON.stringify({ status: 'invalid event', message: 'Event object is invalid', errors }),
    });
    if (!String(req.headers['content-type']).startsWith('application/json'))
      return invalid(['Content-Type must be application/json']);
    const errors = pagerDutyEventErrors(req.body, options.routingKey);
    if (errors.length > 0) return invalid(errors);
    const event = JSON.parse(req.body) as Record<string, unknown> & { payload?: Record<string, string> };
    if (options.eventsPerMinute !== undefined) {
      const key = event.routing_key as string;
      const recent = (this.#recent.get(key) ?? []).filter((t) => t > req.at - 60_000);
      if (recent.length >= options.eventsPerMinute) {
        this.#recent.set(key, recent);
        return {
          status: 429,
          body: JSON.stringify({
            status: 'throttle event',
            message: 'Requests for this service are arriving too quickly.  Please retry later.',
          }),
        };
      }
      recent.push(req.at);
      this.#recent.set(key, recent);
    }
    this.events.push(event);
    const dedupKey = (event.dedup_key as string | undefined) ?? `generated-${this.events.length}`;
    const alert = this.alerts.get(dedupKey);
    const action = event.event_action as string;
    if (action === 'trigger') {
      if (alert && alert.status !== 'resolved') {
        alert.triggers += 1;
      } else {
        this.alerts.delete(dedupKey);
        this.alerts.set(dedupKey, {
          dedupKey,
          status: 'triggered',
          triggers: 1,
          summary: event.payload!.summary!,
          severity: event.payload!.severity!,
        });
        if (this.alerts.size > MAX_ALERTS) this.alerts.delete(this.alerts.keys().next().value!);
      }
    } else if (alert && alert.status !== 'resolved') {
      alert.status = action === 'resolve' ? 'resolved' : 'acknowledged';
    }
    return {
      status: 202,
      body: JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: dedupKey }),
    };
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
