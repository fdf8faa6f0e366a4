import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** One request as the receiver got it. */
export interface ReceivedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * A fault the receiver plays instead of (or before) its normal answer:
 * a status (429 with Retry-After, a 5xx, ...), a slow answer, or a hang-up without one.
 */
export type Fault =
  | { kind: 'status'; status: number; retryAfter?: string; body?: string }
  | { kind: 'slow'; ms: number }
  | { kind: 'hangup' };

export type Handler = (req: ReceivedRequest) => Answer;

/** Requests kept for inspection; the oldest are dropped past this. */
export const MAX_KEPT_REQUESTS = 10_000;
/** Request bodies over this are refused with 413 (PagerDuty's limit is the largest any destination needs). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

/**
 * A real HTTP server on loopback (node:http) that records what it receives, answers
 * through a handler that checks an API's documented format, and plays faults:
 * queued per request (`failNext`), standing (`failAlways`), or down then up.
 */
export class HttpReceiver {
  readonly requests: ReceivedRequest[] = [];
  #faults: Fault[] = [];
  #standing: Fault | undefined;
  #server: Server;
  #sockets = new Set<Socket>();
  #port = 0;
  readonly #handler: Handler;

  private constructor(handler: Handler) {
    this.#handler = handler;
    this.#server = this.#create();
  }

  static async start(handler: Handler): Promise<HttpReceiver> {
    const receiver = new HttpReceiver(handler);
    await receiver.#listen(0);
    return receiver;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Plays `fault` on each of the next `count` requests. */
  failNext(count: number, fault: Fault): void {
    for (let i = 0; i < count; i++) this.#faults.push(fault);
  }

  /** Plays `fault` on every request until `failAlways(undefined)`. */
  failAlways(fault: Fault | undefined): void {
    this.#standing = fault;
  }

  /** Stops listening and drops open connections: the receiver is down (connections are refused). */
  async down(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Listens again on the same port. */
  async up(): Promise<void> {
    this.#server = this.#create();
    await this.#listen(this.#port);
  }

  async close(): Promise<void> {
    if (this.#server.listening) await this.down();
  }

  #create(): Server {
    const server = createServer((req, res) => {
      void this.#serve(req, res);
    });
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    return server;
  }

  #listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => {
        this.#server.off('error', reject);
        const address = this.#server.address();
        if (address && typeof address === 'object') this.#port = address.port;
        resolve();
      });
    });
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) {
        res.writeHead(413).end('request body too large');
        return;
      }
      chunks.push(chunk as Buffer);
    }
    const url = new URL(req.url ?? '/', 'http://receiver');
    const received: ReceivedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
      at: Date.now(),
    };
    this.requests.push(received);
    if (this.requests.length > MAX_KEPT_REQUESTS) this.requests.shift();
    const fault = this.#faults.shift() ?? this.#standing;
    if (fault?.kind === 'hangup') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'status') {
      res.writeHead(fault.status, {
        'content-type': 'application/json',
        ...(fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {}),
      });
      res.end(fault.body ?? JSON.stringify({ message: `fault ${fault.status}` }));
      return;
    }
    if (fault?.kind === 'slow') await sleep(fault.ms);
    if (res.destroyed) return;
    const answer = this.#handler(received);
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(answer.body ?? '');
  }
}
