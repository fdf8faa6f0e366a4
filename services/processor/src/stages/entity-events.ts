import { InvalidRecordError, createCodec, type AvroCodec } from '@aispm/core';
import { fleetViews, type FleetEntity, type ObservedEvent } from '../baseline/view.ts';
import { inSlices } from '../time-slices.ts';

/** One event on the entities topic: the fields the baselines read, and its offset on the events topic. */
export type EntityEvent = ObservedEvent & { offset: number };

/** One batch's events of one fleet entity, keyed tenant/kind:name. */
export interface EntityEvents {
  tenant: string;
  entity: FleetEntity;
  name: string;
  source_partition: number;
  events: EntityEvent[];
}

/** The event fields that hold names: on the wire, indexes into the record's `strings`. */
type Named =
  | 'operation'
  | 'app'
  | 'agent'
  | 'user'
  | 'identity'
  | 'request_model'
  | 'response_model'
  | 'tool_name'
  | 'destination';
/** The tenant is the record's, written once. */
type WireEvent = Omit<EntityEvent, Named | 'tenant'> & Record<Named, number>;

/** As schemas/avro/entity-events.v1.avsc has it: names once in `strings`, events pointing at them (-1: none). */
interface WireRecord extends Omit<EntityEvents, 'events'> {
  strings: string[];
  events: WireEvent[];
}

/**
 * The entities topic's codec. A user's or model's batch repeats the same few app,
 * agent, model and tool names event after event; writing each once per record
 * keeps the re-keyed traffic to a fraction of the events' own size.
 */
export function createEntityEventsCodec(): Pick<AvroCodec<EntityEvents>, 'encode' | 'decode'> {
  const wire = createCodec<WireRecord>('entity-events');
  return {
    encode: (record) => wire.encode(toWire(record)),
    decode: (bytes) => fromWire(wire.decode(bytes)),
  };
}

// toWire and fromWire spell each field out: spreading and setting fields by name in a
// loop made these objects slow to build and read, and both run once per event and entity.
function toWire({ tenant, entity, name, source_partition, events }: EntityEvents): WireRecord {
  const strings: string[] = [];
  const index = new Map<string, number>();
  const at = (value: string | null): number => {
    if (value === null) return -1;
    let i = index.get(value);
    if (i === undefined) {
      i = strings.push(value) - 1;
      index.set(value, i);
    }
    return i;
  };
  const wire = events.map((e): WireEvent => ({
    offset: e.offset,
    event_id: e.event_id,
    time: e.time,
    kind: e.kind,
    operation: at(e.operation),
    app: at(e.app),
    agent: at(e.agent),
    user: at(e.user),
    identity: at(e.identity),
    request_model: at(e.request_model),
    response_model: at(e.response_model),
    tool_name: at(e.tool_name),
    destination: at(e.destination),
    input_tokens: e.input_tokens,
    output_tokens: e.output_tokens,
    latency_ms: e.latency_ms,
  }));
  return { tenant, entity, name, source_partition, strings, events: wire };
}

function fromWire({ tenant, entity, name, source_partition, strings, events }: WireRecord): EntityEvents {
  const named = (field: Named, i: number): string | null => {
    if (i === -1) return null;
    const value = strings[i];
    if (value === undefined)
      throw new InvalidRecordError('undecodable', `${field} points at string ${i}; the record has ${strings.length}`);
    return value;
  };
  const decoded = events.map((w): EntityEvent => {
    const app = named('app', w.app);
    if (app === null) throw new InvalidRecordError('undecodable', 'app is required; the record gives none');
    return {
      offset: w.offset,
      event_id: w.event_id,
      tenant,
      time: w.time,
      kind: w.kind,
      operation: named('operation', w.operation),
      app,
      agent: named('agent', w.agent),
      user: named('user', w.user),
      identity: named('identity', w.identity),
      request_model: named('request_model', w.request_model),
      response_model: named('response_model', w.response_model),
      tool_name: named('tool_name', w.tool_name),
      destination: named('destination', w.destination),
      input_tokens: w.input_tokens,
      output_tokens: w.output_tokens,
      latency_ms: w.latency_ms,
    };
  });
  return { tenant, entity, name, source_partition, events: decoded };
}

/**
 * Most bytes of one encoded record: under the bus's publish limit for a record
 * (768 KiB by default, KafkaBusOptions.maxRequestBytes) with room to spare. One
 * model serving a whole fleet puts every event of a batch in one record, at
 * 80–300 bytes each: a batch of 5,000 can pass the limit, and a record refused by
 * the bus fails its batch on every redelivery.
 */
export const MAX_RECORD_BYTES = 512 * 1024;

/**
 * `record` encoded, as one record or, where that would pass `maxBytes`, as several
 * with consecutive runs of its events (halving until each fits; the entities stage
 * folds each event by its offset, so how they are grouped does not matter).
 */
export function encodeWithin(
  codec: Pick<AvroCodec<EntityEvents>, 'encode'>,
  record: EntityEvents,
  maxBytes = MAX_RECORD_BYTES,
): Buffer[] {
  const bytes = codec.encode(record);
  // One event over the limit is left whole: the bus refuses it with its own error.
  if (bytes.length <= maxBytes || record.events.length === 1) return [bytes];
  const half = record.events.length >> 1;
  return [
    ...encodeWithin(codec, { ...record, events: record.events.slice(0, half) }, maxBytes),
    ...encodeWithin(codec, { ...record, events: record.events.slice(half) }, maxBytes),
  ];
}

/**
 * Re-keys a batch of one events partition by fleet entity: one record per user,
 * identity, model and tool the batch involves, holding its events in offset order.
 * One record per entity rather than per event keeps the extra topic traffic to a
 * fraction of the events'. In time slices: a batch's worth takes tens of ms.
 */
export async function entityRecords(
  events: readonly { event: ObservedEvent; offset: string }[],
  partition: number,
): Promise<{ key: string; value: EntityEvents }[]> {
  const records = new Map<string, EntityEvents>();
  await inSlices(events, ({ event, offset }) => {
    const views = fleetViews(event);
    if (views.length === 0) return;
    // One copy per event, shared by its entities' records: the codec only reads it.
    const entityEvent = toEntityEvent(event, Number(offset));
    for (const view of views) {
      let record = records.get(view.key);
      if (!record) {
        record = {
          tenant: event.tenant,
          entity: view.entity,
          name: view.name,
          source_partition: partition,
          events: [],
        };
        records.set(view.key, record);
      }
      record.events.push(entityEvent);
    }
  });
  return [...records].map(([key, value]) => ({ key, value }));
}

function toEntityEvent(e: ObservedEvent, offset: number): EntityEvent {
  return {
    offset,
    event_id: e.event_id,
    tenant: e.tenant,
    time: e.time,
    kind: e.kind,
    operation: e.operation,
    app: e.app,
    agent: e.agent,
    user: e.user,
    identity: e.identity,
    request_model: e.request_model,
    response_model: e.response_model,
    tool_name: e.tool_name,
    destination: e.destination,
    input_tokens: e.input_tokens,
    output_tokens: e.output_tokens,
    latency_ms: e.latency_ms,
  };
}
