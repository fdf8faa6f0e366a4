import { createCodec, type AvroCodec } from '@aispm/core';
import { fleetViews, type FleetEntity, type ObservedEvent } from '../baseline/view.ts';

/** One event on the entities topic: the fields the baselines read, and where it came from. */
export type EntityEvent = Omit<ObservedEvent, 'tenant'> & { offset: number };

/** One batch's events of one fleet entity (schemas/avro/entity-events.v1.avsc), keyed tenant/kind:name. */
export interface EntityEvents {
  tenant: string;
  entity: FleetEntity;
  name: string;
  source_partition: number;
  events: EntityEvent[];
}

export const createEntityEventsCodec = (): AvroCodec<EntityEvents> => createCodec<EntityEvents>('entity-events');

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
