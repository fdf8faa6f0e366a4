import { EVENT_LIMITS, InvalidRecordError, createCodec, sampleEvent } from '@aispm/core';
import { describe, expect, it } from 'vitest';
import { createEntityEventsCodec, encodeWithin, entityRecords } from './entity-events.ts';

describe('events re-keyed by fleet entity', () => {
  const llm = sampleEvent({ tenant: 't', user: 'alice', identity: null, response_model: 'm-1', tool_name: null });
  const tool = sampleEvent({
    tenant: 't',
    kind: 'tool_call',
    user: 'alice',
    identity: 'svc@t',
    request_model: null,
    response_model: null,
    tool_name: 'x'.repeat(EVENT_LIMITS.maxIdentifierLength + 1),
  });

  it('makes one record per entity, with its events in offset order and where they came from', async () => {
    const records = await entityRecords(
      [
        { event: llm, offset: '7' },
        { event: tool, offset: '9' },
      ],
      3,
    );
    // The oversized tool name is no entity: the baselines would refuse it.
    expect(records.map((r) => r.key)).toEqual(['t/user:alice', 't/model:m-1', 't/identity:svc@t']);
    const alice = records[0]!.value;
    expect(alice).toMatchObject({ tenant: 't', entity: 'user', name: 'alice', source_partition: 3 });
    expect(alice.events.map((e) => [e.offset, e.event_id])).toEqual([
      [7, llm.event_id],
      [9, tool.event_id],
    ]);
  });

  it('round-trips through entity-events.v1, carrying no content', async () => {
    const codec = createEntityEventsCodec();
    const [record] = await entityRecords([{ event: llm, offset: '7' }], 0);
    const decoded = codec.decode(codec.encode(record!.value));
    expect(decoded).toEqual(record!.value);
    expect(Object.keys(decoded.events[0]!)).not.toContain('content');
  });

  it('writes each name once per record, however many events repeat it', async () => {
    const codec = createEntityEventsCodec();
    const batch = Array.from({ length: 50 }, (_, i) => ({
      event: { ...llm, event_id: `e-${i}`, app: 'a-very-recognisable-app-name' },
      offset: String(i),
    }));
    const [record] = await entityRecords(batch, 0);
    const bytes = codec.encode(record!.value);
    expect(bytes.toString('latin1').split('a-very-recognisable-app-name').length - 1).toBe(1);
    expect(codec.decode(bytes)).toEqual(record!.value);
  });

  it('refuses a record whose event points at a name it does not carry', async () => {
    const wire = createCodec<{ strings: string[]; events: { app: number }[] }>('entity-events');
    const [record] = await entityRecords([{ event: llm, offset: '7' }], 0);
    const valid = wire.decode(createEntityEventsCodec().encode(record!.value));
    const broken = wire.encode({ ...valid, events: valid.events.map((e) => ({ ...e, app: valid.strings.length })) });
    expect(() => createEntityEventsCodec().decode(broken)).toThrow(InvalidRecordError);
    expect(() => createEntityEventsCodec().decode(broken)).toThrow(/app points at string \d+; the record has \d+/);
  });

  it('splits a record that would pass the byte limit into records of consecutive events, each within it', async () => {
    const codec = createEntityEventsCodec();
    const batch = Array.from({ length: 300 }, (_, i) => ({ event: { ...llm, event_id: `e-${i}` }, offset: String(i) }));
    const [record] = await entityRecords(batch, 0);
    const whole = codec.encode(record!.value);
    expect(encodeWithin(codec, record!.value, whole.length)).toEqual([whole]);
    const parts = encodeWithin(codec, record!.value, 4096);
    expect(parts.length).toBeGreaterThan(whole.length / 4096);
    for (const part of parts) expect(part.length).toBeLessThanOrEqual(4096);
    const decoded = parts.map((part) => codec.decode(part));
    expect(decoded.flatMap((r) => r.events)).toEqual(record!.value.events);
    for (const r of decoded) expect({ ...r, events: [] }).toEqual({ ...record!.value, events: [] });
  });
});
