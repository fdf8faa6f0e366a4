import { HttpReceiver, type Answer, type ReceivedRequest } from './http-receiver.ts';

/**
 * A local stand-in for Splunk's HTTP Event Collector that checks the documented
 * request format: `Authorization: Splunk <token>`, POST /services/collector/event
 * with one or more JSON event objects (each with a non-empty `event`, a numeric
 * `time` in epoch seconds, `fields` flat: strings or arrays of strings, an allowed
 * `index`), and indexer acknowledgement: with ack on, every request names its
 * channel (X-Splunk-Request-Channel, a GUID), each accepted batch gets an ackId,
 * and POST /services/collector/ack {"acks":[ids]} answers {"acks":{"id":bool}};
 * an ack is reported true once, then forgotten. Answers carry HEC's {text, code}.
 */
export interface HecReceiverOptions {
  token: string;
  /** Indexes the token may write to; any when unset. */
  indexes?: readonly string[];
  ack?: boolean;
  /** Polls of an ackId answered false before it turns true (the indexing delay). */
  ackAfterPolls?: number;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const hec = (status: number, code: number, text: string, extra: Record<string, unknown> = {}): Answer => ({
  status,
  body: JSON.stringify({ text, code, ...extra }),
});

/** Splits a body of concatenated JSON objects (HEC accepts them back to back or newline-separated). */
export function splitHecBody(body: string): unknown[] | null {
  const out: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}') {
      depth--;
      if (depth < 0) return null;
      if (depth === 0) {
        try {
          out.push(JSON.parse(body.slice(start, i + 1)));
        } catch {
          return null;
        }
      }
    } else if (depth === 0 && !/\s/.test(c!)) return null;
  }
  return depth === 0 ? out : null;
}

export interface HecPending {
  polls: number;
}

export class HecReceiver {
  /** Events accepted, in order. */
  readonly events: Record<string, unknown>[] = [];
  /** ackIds reported true, in order. */
  readonly acked: number[] = [];
  http!: HttpReceiver;
  readonly #pending = new Map<string, Map<number, HecPending>>();
  #nextAck = 0;

  private constructor() {}

  static async start(options: HecReceiverOptions): Promise<HecReceiver> {
    const self = new HecReceiver();
    self.http = await HttpReceiver.start((req) => self.handle(req, options));
    return self;
  }

  /** The collector's base URL, as `url` of a splunk_hec destination. */
  get url(): string {
    return this.http.url;
  }

  handle(req: ReceivedRequest, options: HecReceiverOptions): Answer {
    const auth = req.headers.authorization;
    if (!auth) return hec(401, 2, 'Token is required');
    if (!auth.startsWith('Splunk ')) return hec(401, 3, 'Invalid authorization');
    if (auth.slice('Splunk '.length) !== options.token) return hec(403, 4, 'Invalid token');
    const channel =
      (req.headers['x-splunk-request-channel'] as string | undefined) ?? req.query.get('channel') ?? undefined;
    if (req.method !== 'POST') return hec(404, 404, 'Not found');
    if (req.path === '/services/collector/ack') return this.#ack(req, options, channel);
    if (req.path !== '/services/collector/event' && req.path !== '/services/collector')
      return hec(404, 404, 'Not found');
    if (options.ack) {
      if (!channel) return hec(400, 10, 'Data channel is missing');
      if (!GUID.test(channel)) return hec(400, 11, 'Invalid data channel');
    }
    if (req.body.trim() === '') return hec(400, 5, 'No data');
    const events = splitHecBody(req.body);
    if (!events || events.length === 0) return hec(400, 6, 'Invalid data format');
    for (const [i, e] of events.entries()) {
      const event = e as Record<string, unknown>;
      if (typeof event !== 'object' || event === null || !('event' in event)) {
        return hec(400, 12, 'Event field is required', { 'invalid-event-number': i });
      }
      if (event.event === '' || event.event === null)
        return hec(400, 13, 'Event field cannot be blank', { 'invalid-event-number': i });
      if (event.time !== undefined && (typeof event.time !== 'number' || event.time <= 0)) {
        return hec(400, 6, 'Invalid data format', { 'invalid-event-number': i });
      }
      if (event.index !== undefined && options.indexes && !options.indexes.includes(event.index as string)) {
        return hec(400, 7, 'Incorrect index', { 'invalid-event-number': i });
      }
      if (event.fields !== undefined) {
        const fields = event.fields as Record<string, unknown>;
        const flat =
          typeof fields === 'object' &&
          fields !== null &&
          !Array.isArray(fields) &&
          Object.values(fields).every(
            (v) => typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string')),
          );
        if (!flat) return hec(400, 15, 'Error in handling indexed fields', { 'invalid-event-number': i });
      }
    }
    this.events.push(...(events as Record<string, unknown>[]));
    if (!options.ack) return hec(200, 0, 'Success');
    const ackId = this.#nextAck++;
    const pending = this.#pending.get(channel!) ?? new Map<number, HecPending>();
    pending.set(ackId, { polls: 0 });
    this.#pending.set(channel!, pending);
    return hec(200, 0, 'Success', { ackId });
  }

  #ack(req: ReceivedRequest, options: HecReceiverOptions, channel: string | undefined): Answer {
    if (!options.ack) return hec(400, 14, 'ACK is disabled');
    if (!channel) return hec(400, 10, 'Data channel is missing');
    if (!GUID.test(channel)) return hec(400, 11, 'Invalid data channel');
    let query: { acks?: unknown };
    try {
      query = JSON.parse(req.body) as { acks?: unknown };
    } catch {
      return hec(400, 6, 'Invalid data format');
    }
    if (!Array.isArray(query.acks) || !query.acks.every((a) => Number.isInteger(a)))
      return hec(400, 6, 'Invalid data format');
    const pending = this.#pending.get(channel);
    const acks: Record<string, boolean> = {};
    for (const id of query.acks as number[]) {
      const p = pending?.get(id);
      if (!p) {
        acks[String(id)] = false;
        continue;
      }
      p.polls += 1;
      if (p.polls > (options.ackAfterPolls ?? 1)) {
        acks[String(id)] = true;
        pending!.delete(id);
        this.acked.push(id);
      } else {
        acks[String(id)] = false;
      }
    }
    return { status: 200, body: JSON.stringify({ acks }) };
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
