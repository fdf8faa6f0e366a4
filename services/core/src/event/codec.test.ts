import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { AvroCodec, loadSchemaVersions, SCHEMA_DIR } from './codec.ts';
import { createEventCodec, withAttribution } from './event-codec.ts';
import { rabinFingerprint } from './fingerprint.ts';
import { sampleEvent } from './sample.ts';
import type { AiEvent } from './types.ts';
import { InvalidRecordError } from '../errors.ts';

/** The error a call throws, for asserting its code and message. */
function thrown(fn: () => unknown): InvalidRecordError {
  try {
    fn();
  } catch (err) {
    if (err instanceof InvalidRecordError) return err;
    throw err;
  }
  throw new Error('expected the call to throw');
}

const NEXT_FILE = join(import.meta.dirname, '../../../../test/fixtures/avro/ai-event.next.avsc');
const versions = loadSchemaVersions('ai-event');
const v1 = versions[0]!;
/** The newest version in schemas/avro, which the codec writes. */
const current = versions.at(-1)!;
/** A version after the newest, for evolution tests. */
const next = JSON.parse(readFileSync(NEXT_FILE, 'utf8')) as avro.Schema;

describe('CRC-64-AVRO fingerprint', () => {
  // Expected values computed with fastavro's independent implementation (fastavro.schema.fingerprint).
  it.each([
    ['"int"', '8f5c393f1ad57572'],
    ['"null"', '8a8f25cce724dd63'],
    ['{"name":"a.b.R","type":"record","fields":[{"name":"x","type":"long"}]}', 'a87fa7bf9f7e8224'],
  ])('fingerprints %s as the Avro specification does', (canonical, hex) => {
    expect(rabinFingerprint(canonical).toString('hex')).toBe(hex);
  });

  it('fingerprints the v1 event schema in its parsing canonical form like fastavro does', () => {
    expect(new AvroCodec(v1).fingerprint.toString('hex')).toBe('ee408caba846e02b');
  });
});

describe('event codec', () => {
  const codec = createEventCodec();

  it('loads every schema version from schemas/avro, oldest first', () => {
    expect(loadSchemaVersions('ai-event', SCHEMA_DIR).length).toBeGreaterThanOrEqual(1);
    expect((current as { name: string }).name).toBe('AiEvent');
  });

  it('round-trips a full event', () => {
    const event = sampleEvent();
    expect(codec.decode(codec.encode(event))).toEqual(event);
  });

  it('round-trips records of any size, small ones after large ones, each in a buffer of its own', () => {
    const large = sampleEvent({ content: { ...sampleEvent().content, prompt: 'p'.repeat(100_000) } });
    const small = sampleEvent();
    const [a, b, c] = [codec.encode(small), codec.encode(large), codec.encode(small)];
    expect(codec.decode(b)).toEqual(large);
    expect(b.length).toBeGreaterThan(100_000);
    expect(codec.decode(a)).toEqual(small);
    expect(c).toEqual(a);
    expect(c.buffer === a.buffer && c.byteOffset === a.byteOffset).toBe(false);
  });

  it('round-trips an event with every optional field empty', () => {
    const event = sampleEvent({
      parent_span_id: null,
      agent: null,
      user: null,
      identity: null,
      scopes: [],
      tool_name: null,
      tool_risk: null,
      input_tokens: null,
      output_tokens: null,
      finish_reasons: [],
      attributes: {},
      content: { policy: 'none', prompt: null, completion: null, tool_arguments: null, tool_result: null },
    });
    expect(codec.decode(codec.encode(event))).toEqual(event);
  });

  it('writes the single-object header: C3 01 and the writer fingerprint', () => {
    const bytes = codec.encode(sampleEvent());
    expect([...bytes.subarray(0, 2)]).toEqual([0xc3, 0x01]);
    expect(bytes.subarray(2, 10).equals(codec.fingerprint)).toBe(true);
  });

  it('lists the same fields in the Avro schema and in the TypeScript type', () => {
    const fields = (current as { fields: { name: string }[] }).fields.map((f) => f.name);
    expect(fields.sort()).toEqual(Object.keys(sampleEvent()).sort());
  });

  it('reads a record written with a newer schema (current reader, next writer)', () => {
    const v2Writer = new AvroCodec<AiEvent & { session_risk: number }>(next);
    const v1Reader = new AvroCodec<AiEvent>(current, [next]);
    const decoded = v1Reader.decode(v2Writer.encode({ ...sampleEvent(), session_risk: 0.75 }));
    expect(decoded).toEqual(sampleEvent());
    expect(decoded).not.toHaveProperty('session_risk');
  });

  it('reads a record written with an older schema (next reader, current writer), filling defaults', () => {
    const v2Reader = new AvroCodec<AiEvent & { session_risk: number }>(next, [current]);
    const decoded = v2Reader.decode(new AvroCodec<AiEvent>(current).encode(sampleEvent()));
    expect(decoded).toEqual({ ...sampleEvent(), session_risk: 0 });
  });

  it('reads v1 records (before trace assembly) with no attribution, and v1 readers read current records', () => {
    const { attribution, detections, ...before } = sampleEvent();
    expect(attribution).toBe('own');
    expect(detections).toHaveLength(1);
    expect(codec.decode(new AvroCodec<AiEvent>(v1).encode(before))).toEqual({
      ...before,
      attribution: null,
      detections: [],
    });
    expect(new AvroCodec<AiEvent>(v1, [current]).decode(codec.encode(sampleEvent()))).toEqual(before);
  });

  it('reads v2 records (before content detections) with none, and v2 readers read v3 records without them', () => {
    const v2 = versions.find(
      (v) => JSON.stringify(v).includes('"attribution"') && !JSON.stringify(v).includes('"detections"'),
    )!;
    const { detections, ...before } = sampleEvent();
    expect(detections?.[0]?.rule).toBe('pii.email');
    expect(codec.decode(new AvroCodec<AiEvent>(v2).encode(before))).toEqual({ ...before, detections: [] });
    const older = new AvroCodec<AiEvent>(v2, [current]).decode(codec.encode(sampleEvent()));
    expect(older).toEqual(before);
    expect(older).not.toHaveProperty('detections');
  });

  it('writes an event without detections as an empty list', () => {
    const { detections, ...without } = sampleEvent();
    expect(detections).toBeDefined();
    expect(codec.decode(codec.encode(without))).toEqual({ ...without, detections: [] });
  });

  it('rejects a record whose writer schema it does not know, naming the fingerprint', () => {
    const v2Writer = new AvroCodec<AiEvent & { session_risk: number }>(next);
    const bytes = v2Writer.encode({ ...sampleEvent(), session_risk: 1 });
    const err = thrown(() => new AvroCodec<AiEvent>(current).decode(bytes));
    expect(err.code).toBe('unknown_schema');
    expect(err.message).toContain(v2Writer.fingerprint.toString('hex'));
  });

  it("gives the Avro body of its own schema's records, and none of another schema's or of other bytes", () => {
    const bytes = codec.encode(sampleEvent());
    expect(codec.ownBody(bytes)?.equals(bytes.subarray(10))).toBe(true);
    const v2Writer = new AvroCodec<AiEvent & { session_risk: number }>(next);
    expect(
      new AvroCodec<AiEvent>(current, [next]).ownBody(v2Writer.encode({ ...sampleEvent(), session_risk: 1 })),
    ).toBeNull();
    expect(codec.ownBody(Buffer.from('{"json":true}'))).toBeNull();
    expect(JSON.parse(codec.schema)).toEqual(current);
  });

  it('rejects bytes that are not a single-object record', () => {
    expect(thrown(() => codec.decode(Buffer.from('{"json":true}'))).code).toBe('bad_header');
    expect(thrown(() => codec.decode(Buffer.from([0xc3]))).code).toBe('bad_header');
  });

  it('rejects a truncated body', () => {
    const bytes = codec.encode(sampleEvent());
    expect(thrown(() => codec.decode(bytes.subarray(0, bytes.length - 20))).code).toBe('undecodable');
  });

  it('reports invalid values by path', () => {
    const bad: string[] = [];
    expect(codec.isValid({ ...sampleEvent(), kind: 'teleport' }, (path) => bad.push(path.join('.')))).toBe(false);
    expect(bad).toEqual(['kind']);
  });
});

describe('withAttribution', () => {
  const codec = createEventCodec();
  it.each(['own', 'inherited', 'none'] as const)('sets attribution %s on a record as encoding the event would', (a) => {
    const event = sampleEvent({ attribution: null });
    const patched = withAttribution(codec, codec.encode(event), a);
    expect(patched?.equals(codec.encode({ ...event, attribution: a }))).toBe(true);
    expect(codec.decode(patched!)).toEqual({ ...event, attribution: a });
  });

  it('declines a record already attributed, or of another schema version', () => {
    expect(withAttribution(codec, codec.encode(sampleEvent({ attribution: 'own' })), 'none')).toBeNull();
    expect(withAttribution(codec, new AvroCodec<AiEvent>(v1).encode(sampleEvent()), 'own')).toBeNull();
  });
});
