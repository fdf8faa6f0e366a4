import { InvalidRecordError, createCodec, type AvroCodec } from '@aispm/core';
import { fleetViews, type FleetEntity, type ObservedEvent } from '../baseline/view.ts';

/** One event on the entities topic: the fields the baselines read, and where it came from. */
export type EntityEvent = Omit<ObservedEvent, 'tenant'> & { offset: number };

/** One batch's events of one fleet entity, keyed tenant/kind:name. */
export interface EntityEvents {
  tenant: string;
  entity: FleetEntity;
  name: string;
  source_partition: number;
  events: EntityEvent[];
}

/** The event fields that hold names: on the wire, indexes into the record's `strings`. */
const NAMED = [
  'operation',
  'app',
  'agent',
  'user',
  'identity',
  'request_model',
  'response_model',
  'tool_name',
  'destination',
] as const satisfies readonly (keyof EntityEvent)[];
type Named = (typeof NAMED)[number];
type WireEvent = Omit<EntityEvent, Named> & Record<Named, number>;

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

function toWire({ events, ...record }: EntityEvents): WireRecord {
  const strings: string[] = [];
  const index = new Map<string, number>();
  const indexOf = (value: string | null): number => {
    if (value === null) return -1;
    let i = index.get(value);
    if (i === undefined) {
      i = strings.push(value) - 1;
      index.set(value, i);
    }
    return i;
  };
  return {
    ...record,
    strings,
    events: events.map((event) => {
      const wire = { ...event } as unknown as WireEvent;
      for (const field of NAMED) wire[field] = indexOf(event[field]);
      return wire;
    }),
  };
}

function fromWire({ strings, events, ...record }: WireRecord): EntityEvents {
  return {
    ...record,
    events: events.map((wire) => {
      const event = { ...wire } as unknown as Record<Named, string | null>;
      for (const field of NAMED) {
        const i = wire[field];
        if (i !== -1 && strings[i] === undefined)
          throw new InvalidRecordError(
            'undecodable',
            `${field} points at string ${i}; the record has ${strings.length}`,
          );
        event[field] = i === -1 ? null : strings[i]!;
      }
      if (event.app === null) throw new InvalidRecordError('undecodable', 'app is required; the record gives none');
      return event as EntityEvent;
    }),
  };
}

/**
 * Re-keys a batch of one events partition by fleet entity: one record per user,
 * identity, model and tool the batch involves, holding its events in offset order.
 * One record per entity rather than per event keeps the extra topic traffic to a
 * fraction of the events'.
 */
export function entityRecords(
  events: Iterable<{ event: ObservedEvent; offset: string }>,
  partition: number,
): { key: string; value: EntityEvents }[] {
  const records = new Map<string, EntityEvents>();
  for (const { event, offset } of events) {
    for (const view of fleetViews(event)) {
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
      record.events.push(entityEvent(event, Number(offset)));
    }
  }
  return [...records].map(([key, value]) => ({ key, value }));
}

function entityEvent(e: ObservedEvent, offset: number): EntityEvent {
  return {
    offset,
    event_id: e.event_id,
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
