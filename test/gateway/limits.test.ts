import { createHash, randomUUID } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import { consumerGroups, createEventCodec, loadConfig, silentLogger, type Config } from '@aispm/core';
import { MemoryBus, type Bus } from '@aispm/bus';
import { decodeAndMap, startGateway, type RunningGateway } from '@aispm/gateway';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../support/until.ts';
import { CHAT_ATTRIBUTES, KEY_ACME, KEY_GLOBEX, conversationSpans, recordSpans } from './support.ts';

/**
 * The gateway's bounds on an in-process bus: timeouts, per-tenant fairness, bytes in
 * flight, the processor's backlog, a responsive event loop under a huge body, and
 * /metrics kept off the public listener.
 */
interface Gw {
  gateway: RunningGateway;
  bus: Bus;
  config: Config;
  traces: URL;
}

const open: Gw[] = [];
afterEach(async () => {
  for (const gw of open.splice(0)) {
    await gw.gateway.close();
    await gw.bus.close();
  }
});

async function start(
  env: Record<string, string> = {},
  bus: Bus = new MemoryBus({ log: () => undefined }),
): Promise<Gw> {
  const config = loadConfig({
    AISPM_TOPIC_EVENTS: `gw.limits.${randomUUID().slice(0, 8)}`,
    AISPM_PARTITIONS: '2',
    AISPM_GATEWAY_PORT: '0',
    AISPM_METRICS_PORT: '0',
    AISPM_GATEWAY_KEYS: `acme:${KEY_ACME}\nglobex:sha256:${createHash('sha256').update(KEY_GLOBEX).digest('hex')}`,
    ...env,
  });
  const gateway = await startGateway({ bus, config, log: silentLogger });
  const gw = { gateway, bus, config, traces: new URL(`${gateway.url}/v1/traces`) };
  open.push(gw);
  return gw;
}

const headers = (key: string) => ({ 'content-type': 'application/x-protobuf', authorization: `Bearer ${key}` });
/** Two AI spans (and an HTTP span the gateway ignores). */
const small = Buffer.from(ProtobufTraceSerializer.serializeRequest(conversationSpans())!);

async function post(gw: Gw, key: string, body: Uint8Array = small, extra: Record<string, string> = {}) {
  const started = performance.now();
  const response = await fetch(gw.traces, { method: 'POST', body, headers: { ...headers(key), ...extra } });
  const text = Buffer.from(await response.arrayBuffer()).toString('latin1');
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    text,
    ms: performance.now() - started,
  };
}

/** An upload that sends its headers and `sent` bytes of a longer body, then stalls; resolves with its answer. */
function stalled(
  gw: Gw,
  key: string,
  sent = 10,
  length = 100_000,
): { answer: Promise<IncomingMessage | null>; destroy(): void } {
  const req = httpRequest(gw.traces, {
    method: 'POST',
    agent: false,
    headers: { ...headers(key), 'content-length': String(length) },
  });
  const answer = new Promise<IncomingMessage | null>((resolve) => {
    req.on('response', (res) => {
      res.resume();
      resolve(res);
    });
    req.on('error', () => resolve(null));
  });
  req.write(Buffer.alloc(sent));
  return { answer, destroy: () => req.destroy() };
}

async function metricsText(gw: Gw): Promise<string> {
  return (await fetch(`${gw.gateway.metricsUrl}/metrics`)).text();
}

describe('gateway bounds', () => {
  it('keeps serving tenant B while tenant A stalls 64 uploads, and answers A 408 after the body timeout', async () => {
    const gw = await start({ AISPM_GATEWAY_BODY_IDLE_TIMEOUT_MS: '1500', AISPM_GATEWAY_BODY_TIMEOUT_MS: '3000' });
    const uploads = Array.from({ length: 64 }, () => stalled(gw, KEY_ACME));
    try {
      await until(
        async () => /aispm_gateway_tenant_in_flight\{tenant="acme"\} 16/.test(await metricsText(gw)),
        'A to hold its 16 slots',
      );
      // A's share is a quarter of the 64 slots; B is served at once, and A's next request is turned away.
      const b = await post(gw, KEY_GLOBEX);
      expect(b.status).toBe(200);
      expect(b.ms).toBeLessThan(500);
      const a = await post(gw, KEY_ACME);
      expect(a.status).toBe(429);
      expect(a.retryAfter).toBe('1');
      expect(a.text).toContain('AISPM_GATEWAY_TENANT_MAX_IN_FLIGHT');

      const started = performance.now();
      const answers = await Promise.all(uploads.map((u) => u.answer));
      const statuses = answers.map((res) => res?.statusCode);
      expect(statuses.filter((s) => s === 429)).toHaveLength(48);
      expect(statuses.filter((s) => s === 408)).toHaveLength(16);
      expect(answers.filter((res) => res?.statusCode === 429).every((res) => res!.headers['retry-after'] === '1')).toBe(
        true,
      );
      // The idle timeout (1.5 s) ends them, well before any client gives up.
      expect(performance.now() - started).toBeLessThan(3000);
      expect((await post(gw, KEY_ACME)).status).toBe(200);
      const metrics = await metricsText(gw);
      expect(metrics).toMatch(/aispm_gateway_requests_refused_total\{code="body_timeout"\} 16/);
      expect(metrics).toMatch(/aispm_gateway_requests_refused_total\{code="tenant_in_flight"\} 49/);
      expect(metrics).toMatch(/aispm_gateway_in_flight 0/);
      expect(metrics).toMatch(/aispm_gateway_bytes_in_flight 0/);
    } finally {
      for (const u of uploads) u.destroy();
    }
  }, 30_000);

  it('answers 408 to a body that trickles past the total body timeout', async () => {
    const gw = await start({ AISPM_GATEWAY_BODY_IDLE_TIMEOUT_MS: '1000', AISPM_GATEWAY_BODY_TIMEOUT_MS: '1200' });
    const req = httpRequest(gw.traces, {
      method: 'POST',
      agent: false,
      headers: { ...headers(KEY_ACME), 'content-length': '100000' },
    });
    req.on('error', () => undefined);
    const timer = setInterval(() => req.write(Buffer.alloc(10)), 200);
    const res = await new Promise<IncomingMessage>((resolve) => req.on('response', resolve));
    clearInterval(timer);
    req.destroy();
    expect(res.statusCode).toBe(408);
  });

  it('answers 408 to headers that never end (Node closes the connection)', async () => {
    const gw = await start({ AISPM_GATEWAY_HEADER_TIMEOUT_MS: '300' });
    const socket = connect(Number(gw.traces.port), gw.traces.hostname);
    socket.write(`POST /v1/traces HTTP/1.1\r\nHost: x\r\nauthorization: Bearer ${KEY_ACME}\r\n`);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    const started = performance.now();
    await new Promise((resolve) => socket.on('close', resolve));
    expect(received).toMatch(/^HTTP\/1.1 408/);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('bounds the bytes one tenant holds: 429 to A past its share while B gets 200', async () => {
    const gw = await start({
      AISPM_GATEWAY_MAX_BODY_BYTES: '65536',
      AISPM_GATEWAY_TENANT_MAX_BYTES_IN_FLIGHT: '131072',
      AISPM_GATEWAY_MAX_BYTES_IN_FLIGHT: '1048576',
    });
    // A holds 60 KB of a body, and 60 KB of another; a third cannot fit A's 128 KiB.
    const held = [stalled(gw, KEY_ACME, 60_000, 65_000), stalled(gw, KEY_ACME, 60_000, 65_000)];
    try {
      await until(async () => /aispm_gateway_bytes_in_flight 120000/.test(await metricsText(gw)), 'A to hold 120 KB');
      const a = await post(gw, KEY_ACME, Buffer.concat([small, Buffer.alloc(30_000)]));
      expect(a.status).toBe(429);
      expect(a.retryAfter).toBe('1');
      expect(a.text).toContain('AISPM_GATEWAY_TENANT_MAX_BYTES_IN_FLIGHT');
      expect((await post(gw, KEY_GLOBEX)).status).toBe(200);
    } finally {
      for (const h of held) h.destroy();
    }
    await until(async () => /aispm_gateway_bytes_in_flight 0/.test(await metricsText(gw)), 'the bytes to be released');
    expect((await post(gw, KEY_ACME)).status).toBe(200);
  });

  it('answers 503 with Retry-After while the processor is behind, and 200 once it has caught up', async () => {
    const backlog = { records: 0, bytes: 0 };
    const genaiLogs = { records: 0, bytes: 0 };
    const none = { records: 0, bytes: 0 };
    const bus = Object.assign(new MemoryBus({ log: () => undefined }), {
      backlog: (topic: string) =>
        topic === gw.config.topics.events ? backlog : topic === gw.config.topics.genaiLogs ? genaiLogs : none,
    });
    const gw = await start({ AISPM_BACKLOG_MAX_EVENTS: '1000', AISPM_BACKLOG_MAX_BYTES: '1000000' }, bus);
    expect((await post(gw, KEY_ACME)).status).toBe(200);
    backlog.records = 1000;
    const behind = await post(gw, KEY_ACME);
    expect(behind.status).toBe(503);
    expect(behind.retryAfter).toBe('5');
    expect(behind.text).toContain('AISPM_BACKLOG_MAX_EVENTS');
    backlog.records = 10;
    backlog.bytes = 2_000_000;
    expect((await post(gw, KEY_ACME)).status).toBe(503);
    backlog.bytes = 0;
    expect((await post(gw, KEY_ACME)).status).toBe(200);
    const metrics = await metricsText(gw);
    expect(metrics).toMatch(/aispm_gateway_requests_refused_total\{code="pipeline_backlog"\} 2/);
    expect(metrics).toMatch(/aispm_gateway_backlog_events 10/);
    // The GenAI sink's backlog counts too: a lagging log sink holds back every signal.
    genaiLogs.records = 995;
    expect((await post(gw, KEY_ACME)).status).toBe(503);
    genaiLogs.records = 0;
    expect((await post(gw, KEY_ACME)).status).toBe(200);
  });

  it('bounds open connections: stalled ones past AISPM_GATEWAY_MAX_CONNECTIONS are closed at once', async () => {
    const gw = await start({ AISPM_GATEWAY_MAX_CONNECTIONS: '4' });
    const sockets = Array.from({ length: 8 }, () => connect(Number(gw.traces.port), '127.0.0.1'));
    const closed = sockets.map(
      (socket) => new Promise<boolean>((resolve) => socket.once('close', () => resolve(true))),
    );
    // Past the bound Node closes each new connection; the first four stay open, sending nothing.
    const first = await Promise.race([
      Promise.all(closed.slice(4)).then(() => 'excess closed'),
      new Promise((resolve) => setTimeout(() => resolve('timeout'), 5000)),
    ]);
    expect(first).toBe('excess closed');
    const open = await new Promise<number>((resolve, reject) =>
      gw.gateway.app.server.getConnections((err, count) => (err ? reject(err) : resolve(count))),
    );
    expect(open).toBe(4);
    for (const socket of sockets) socket.destroy();
    await Promise.all(closed.slice(0, 4));
    expect((await post(gw, KEY_GLOBEX)).status).toBe(200);
  });

  it('stops intake on shutdown: 503 with Retry-After to new requests once admitted ones have published', async () => {
    const gw = await start({ AISPM_GATEWAY_BODY_IDLE_TIMEOUT_MS: '1000' });
    const slow = stalled(gw, KEY_ACME, 10);
    await until(
      async () => /aispm_gateway_tenant_in_flight\{tenant="acme"\} 1/.test(await metricsText(gw)),
      'the slow upload to be admitted',
      { timeoutMs: 5000 },
    );
    let stopped = false;
    const stopping = gw.gateway.stopIntake().then(() => {
      stopped = true;
    });
    const refused = await post(gw, KEY_GLOBEX);
    expect(refused.status).toBe(503);
    expect(refused.retryAfter).toBe('5');
    expect(refused.text).toContain('shutting down');
    // An admitted request holds the stop until it is answered (here: its body times out).
    expect(stopped).toBe(false);
    expect((await slow.answer)?.statusCode).toBe(408);
    await stopping;
    expect(stopped).toBe(true);
  });

  it('reads the backlog of the processor group off the MemoryBus: 503 once past it, 200 after a commit', async () => {
    const bus = new MemoryBus({ log: () => undefined });
    const gw = await start({ AISPM_BACKLOG_MAX_EVENTS: '4' }, bus);
    // A processor that has not committed yet: the first batch of each stage is held in the handler.
    const held = Promise.withResolvers<void>();
    const groups = consumerGroups(gw.config.processor.group);
    const stages = [
      { topic: gw.config.topics.events, group: groups.traces },
      { topic: gw.config.topics.attributed, group: groups.agents },
    ];
    const consumers = await Promise.all(
      stages.map((stage) => bus.subscribe({ ...stage, handler: () => held.promise })),
    );
    // What one request publishes, on both topics: its events and its span links.
    const mapped = decodeAndMap(small, 'protobuf', {
      tenant: 'acme',
      capture: gw.config.capture,
      codec: createEventCodec(),
      nowMs: Date.now(),
    });
    const perRequest = mapped.records.length + mapped.direct.length;
    expect(perRequest).toBeGreaterThanOrEqual(2);
    try {
      // Two requests fill the bound of 4.
      expect((await post(gw, KEY_ACME)).status).toBe(200);
      expect((await post(gw, KEY_ACME)).status).toBe(200);
      const behind = await post(gw, KEY_ACME);
      expect(behind.status).toBe(503);
      expect(behind.retryAfter).toBe('5');
      expect(behind.text).toContain(`the processor is behind (${2 * perRequest} events`);
      held.resolve();
      await until(
        async () => (await post(gw, KEY_ACME)).status === 200,
        'a 200 once the processor group has committed',
        {
          timeoutMs: 10_000,
        },
      );
    } finally {
      held.resolve();
      for (const consumer of consumers) await consumer.stop();
    }
  });

  it('keeps the event loop answering while a 16 MB body inflating from gzip is decoded and mapped', async () => {
    const gw = await start({ AISPM_GATEWAY_WORKERS: '1' });
    const huge = hugeBody(gw.config.gateway.maxBodyBytes);
    const gzipped = gzipSync(huge);
    const delay = monitorEventLoopDelay({ resolution: 10 });
    let slowest = 0;
    let polls = 0;
    let busy = true;
    const poller = (async () => {
      while (busy) {
        const started = performance.now();
        expect((await fetch(`${gw.gateway.url}/healthz`)).status).toBe(200);
        slowest = Math.max(slowest, performance.now() - started);
        polls++;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    delay.enable();
    const response = await post(gw, KEY_ACME, gzipped, { 'content-encoding': 'gzip' });
    delay.disable();
    busy = false;
    await poller;
    const metrics = await metricsText(gw);
    const accepted = Number(/aispm_gateway_spans_accepted_total\{tenant="acme"\} (\d+)/.exec(metrics)?.[1]);
    console.log(
      `${(huge.length / 2 ** 20).toFixed(1)} MiB (${(gzipped.length / 1024).toFixed(0)} KiB gzip), ${accepted} events in ${response.ms.toFixed(0)} ms; ` +
        `event loop delay p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms, max ${(delay.max / 1e6).toFixed(1)} ms; ` +
        `/healthz slowest ${slowest.toFixed(1)} ms of ${polls}`,
    );
    expect(response.status).toBe(200);
    expect(accepted).toBeGreaterThan(20_000);
    expect(metrics).toMatch(/aispm_gateway_offloaded_requests_total 1/);
    expect(polls).toBeGreaterThan(3);
    // Without the worker: ~2,300 ms (the whole mapping in one piece); with it, tens of ms.
    expect(delay.percentile(99) / 1e6).toBeLessThan(200);
    expect(slowest).toBeLessThan(500);
  }, 60_000);

  it('serves /metrics only on its own loopback listener', async () => {
    const gw = await start();
    expect((await post(gw, KEY_ACME)).status).toBe(200);
    const refused = await fetch(`${gw.gateway.url}/metrics`);
    expect(refused.status).toBe(404);
    expect(await refused.text()).toContain('AISPM_METRICS_HOST');
    expect(new URL(gw.gateway.metricsUrl).hostname).toBe('127.0.0.1');
    expect(await metricsText(gw)).toMatch(/aispm_gateway_spans_accepted_total\{tenant="acme"\} 2/);
    expect(
      (await fetch(`${gw.gateway.metricsUrl}/v1/traces`, { method: 'POST', body: small, headers: headers(KEY_ACME) }))
        .status,
    ).toBe(404);
  });
});

/** One OTLP request of small AI spans (~300 bytes each) up to `limit` bytes: protobuf requests concatenate into one. */
function hugeBody(limit: number): Buffer {
  const spans = recordSpans((tracer) => {
    for (let i = 0; i < 1000; i++) {
      const attributes = Object.fromEntries(
        Object.entries(CHAT_ATTRIBUTES).filter(([key]) => key !== 'gen_ai.input.messages'),
      );
      tracer.startSpan('chat', { attributes: { ...attributes, 'gen_ai.request.seed': i } }).end();
    }
  });
  const one = Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!);
  return Buffer.concat(Array.from({ length: Math.floor((limit - 1024) / one.length) }, () => one));
}
