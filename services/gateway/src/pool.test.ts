import { execFileSync } from 'node:child_process';
import { createEventCodec, loadConfig, silentLogger } from '@aispm/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeAndMap, type Decoded } from './decode.ts';
import { UndecodableBody } from './otlp/proto.ts';
import { DecodePool } from './pool.ts';

const capture = loadConfig({}).capture;
const pool = new DecodePool({ size: 2, capture, log: silentLogger });
afterAll(() => pool.close());

/** Chat spans whose content the detectors redact, a tool span, an HTTP span (ignored), one with bad UTF-8. */
function body(): Buffer {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'parity-app' }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('parity');
  for (let i = 0; i < 50; i++) {
    tracer
      .startSpan(`chat ${i}`, {
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'openai',
          'gen_ai.request.model': 'gpt-4o',
          'gen_ai.agent.name': i === 7 ? 'BADUTF8' : `agent-${i % 3}`,
          'gen_ai.prompt': `mail jane.doe${i}@example.com, card 4111 1111 1111 1111, key AKIAIOSFODNN7EXAMPLE`,
        },
      })
      .end();
  }
  tracer.startSpan('execute_tool search', { attributes: { 'gen_ai.operation.name': 'execute_tool' } }).end();
  tracer.startSpan('GET /', { attributes: { 'http.request.method': 'GET' } }).end();
  const bytes = Buffer.from(ProtobufTraceSerializer.serializeRequest(memory.getFinishedSpans())!);
  bytes[bytes.indexOf('BADUTF8') + 3] = 0xff;
  return bytes;
}

const base64 = (records: Decoded['records']) =>
  records.map((r) => ({ key: r.key, value: Buffer.from(r.value).toString('base64'), headers: r.headers }));
const comparable = (d: Decoded) => ({
  records: base64(d.records),
  direct: base64(d.direct),
  ignored: d.ignored,
  rejected: d.rejected,
});

describe('DecodePool', () => {
  it('maps a body on a worker to exactly what the main thread makes of it', async () => {
    const codec = createEventCodec();
    const nowMs = Date.now();
    for (const [encoding, bytes] of [
      ['protobuf', body()],
      ['json', Buffer.from(JSON.stringify(protobufAsJson()))],
    ] as const) {
      const here = decodeAndMap(bytes, encoding, { tenant: 'acme', capture, codec, nowMs });
      const there = await pool.run(Buffer.from(bytes), encoding, { tenant: 'acme', nowMs });
      expect(comparable(there)).toEqual(comparable(here));
      expect(here.direct.length).toBeGreaterThan(0);
    }
    const here = comparable(decodeAndMap(body(), 'protobuf', { tenant: 'acme', capture, codec, nowMs }));
    expect(here.ignored).toBe(1);
    expect(here.rejected.utf8).toHaveLength(1);
    // The detectors ran: nothing of the e-mail address is left in the records.
    const there = await pool.run(body(), 'protobuf', { tenant: 'acme', nowMs });
    expect(Buffer.concat([...there.records, ...there.direct].map((r) => r.value)).toString('latin1')).not.toContain(
      'jane.doe',
    );
  });

  it('refuses an undecodable body as the main thread does, and keeps working', async () => {
    await expect(pool.run(Buffer.from('{"resourceSpans": ['), 'json', { tenant: 'a', nowMs: 0 })).rejects.toThrow(
      UndecodableBody,
    );
    await expect(pool.run(Buffer.from([0x0a, 0xff]), 'protobuf', { tenant: 'a', nowMs: 0 })).rejects.toThrow(
      /not an OTLP ExportTraceServiceRequest/,
    );
    const done = await Promise.all(
      Array.from({ length: 6 }, () => pool.run(body(), 'protobuf', { tenant: 'a', nowMs: Date.now() })),
    );
    expect(done.every((d) => d.records.length - d.links + d.direct.length === 50)).toBe(true);
  });
});

describe('DecodePool workers', () => {
  it('start, work and stop without taking the process down (no native addon such as chdb in a worker)', () => {
    // A worker thread stopped after chdb's native addon loaded aborts the whole process; core loads it only when a store opens:
    // pools closed at once, and a little later, each time.
    const script = `
      import { loadConfig, silentLogger } from '@aispm/core';
      import { DecodePool } from ${JSON.stringify(new URL('./pool.ts', import.meta.url).href)};
      const capture = loadConfig({}).capture;
      for (let i = 0; i < 10; i++) {
        const pool = new DecodePool({ size: 2, capture, log: silentLogger });
        await new Promise((resolve) => setTimeout(resolve, i * 50));
        await pool.close();
      }
      const pool = new DecodePool({ size: 2, capture, log: silentLogger });
      const done = await pool.run(Buffer.from('{"resourceSpans":[]}'), 'json', { tenant: 't', nowMs: Date.now() });
      await pool.close();
      console.log('closed', done.records.length);`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: import.meta.dirname,
      encoding: 'utf8',
    });
    expect(out.trim()).toBe('closed 0');
  }, 30_000);
});

function protobufAsJson(): unknown {
  const now = BigInt(Date.now()) * 1_000_000n;
  const span = (spanId: string, agent: string) => ({
    traceId: '0123456789abcdef0123456789abcdef',
    spanId,
    name: 'chat',
    startTimeUnixNano: String(now),
    endTimeUnixNano: String(now + 1_000_000n),
    attributes: [
      { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
      { key: 'gen_ai.agent.name', value: { stringValue: agent } },
      { key: 'gen_ai.prompt', value: { stringValue: 'call me at jane.doe@example.com' } },
    ],
  });
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'json-app' } }] },
        scopeSpans: [{ spans: [span('1111111111111111', 'a'), span('2222222222222222', 'b'), span('x', 'c')] }],
      },
    ],
  };
}
