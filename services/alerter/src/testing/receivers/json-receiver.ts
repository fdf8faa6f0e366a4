import { verifyWebhookSignature } from '../../destinations/webhook.ts';
import { HttpReceiver, type Answer, type ReceivedRequest } from './http-receiver.ts';

/**
 * A JSON endpoint (webhook, OCSF collector, Slack incoming webhook): accepts a JSON
 * body with Content-Type application/json and keeps it; for a webhook with a secret
 * it checks the aispm signature and answers 401 when it does not verify; for a
 * bearer token, 401 without it. Slack answers "ok" as Slack does.
 */
export interface JsonReceiverOptions {
  /** Verify X-Aispm-Signature with this secret. */
  webhookSecret?: string;
  /** Require Authorization: Bearer <token>. */
  bearer?: string;
  /** Answer as Slack: text/plain "ok", "invalid_payload" for a body without text. */
  slack?: boolean;
}

export class JsonReceiver {
  readonly bodies: unknown[] = [];
  http!: HttpReceiver;

  private constructor() {}

  static async start(options: JsonReceiverOptions = {}): Promise<JsonReceiver> {
    const self = new JsonReceiver();
    self.http = await HttpReceiver.start((req) => self.handle(req, options));
    return self;
  }

  get url(): string {
    return `${this.http.url}/hook`;
  }

  handle(req: ReceivedRequest, options: JsonReceiverOptions): Answer {
    if (req.method !== 'POST') return { status: 405, body: '{"error":"POST only"}' };
    if (!String(req.headers['content-type']).startsWith('application/json')) {
      return { status: 415, body: '{"error":"Content-Type must be application/json"}' };
    }
    if (options.bearer !== undefined && req.headers.authorization !== `Bearer ${options.bearer}`) {
      return { status: 401, body: '{"error":"bearer token missing or wrong"}' };
    }
    if (options.webhookSecret !== undefined) {
      const check = verifyWebhookSignature({
        secret: options.webhookSecret,
        body: req.body,
        timestamp: req.headers['x-aispm-timestamp'] as string | undefined,
        signature: req.headers['x-aispm-signature'] as string | undefined,
        nowMs: req.at,
      });
      if (!check.ok) return { status: 401, body: JSON.stringify({ error: check.reason }) };
    }
    let body: unknown;
    try {
      body = JSON.parse(req.body);
    } catch {
      return { status: 400, body: options.slack ? 'invalid_payload' : '{"error":"body is not JSON"}' };
    }
    if (
      options.slack &&
      (typeof body !== 'object' || body === null || typeof (body as { text?: unknown }).text !== 'string')
    ) {
      return { status: 400, headers: { 'content-type': 'text/plain' }, body: 'invalid_payload' };
    }
    this.bodies.push(body);
    return options.slack
      ? { status: 200, headers: { 'content-type': 'text/plain' }, body: 'ok' }
      : { status: 200, body: '{"ok":true}' };
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
