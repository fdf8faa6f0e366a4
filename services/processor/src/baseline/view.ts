import { EVENT_LIMITS, eventKey, type AiEvent } from '@aispm/core';

/**
 * Which entity a baseline describes, and so which state an event is scored
 * against. The agents stage keys state like the events topic (tenant/app/agent,
 * an app's spans without an agent under the app), so an agent's events and its
 * state share a partition. The entities stage keeps fleet-wide baselines of
 * users, identities, models and tools: their events come from every agent, so the
 * agents stage re-keys them (`tenant/kind:name`) onto the entities topic.
 */
export const FLEET_ENTITIES = ['user', 'identity', 'model', 'tool'] as const;
export type FleetEntity = (typeof FLEET_ENTITIES)[number];
/** Every kind of baseline: the agents stage's two, then the fleet entities. */
export const ENTITY_KINDS = ['agent', 'app', ...FLEET_ENTITIES] as const;
export type EntityKind = (typeof ENTITY_KINDS)[number];

export const isFleetEntity = (kind: EntityKind): kind is FleetEntity => kind !== 'agent' && kind !== 'app';

export interface EntityView {
  /** State key; also the Kafka record key on the entities topic. */
  key: string;
  entity: EntityKind;
  /** The entity's own name, for explanations ("user `alice`"). */
  name: string;
}

/** The fields of an event the baselines read (the entities topic carries only these). */
export type ObservedEvent = Pick<
  AiEvent,
  | 'event_id'
  | 'tenant'
  | 'time'
  | 'kind'
  | 'operation'
  | 'app'
  | 'agent'
  | 'user'
  | 'identity'
  | 'request_model'
  | 'response_model'
  | 'tool_name'
  | 'destination'
  | 'input_tokens'
  | 'output_tokens'
  | 'latency_ms'
>;

export interface FleetView extends EntityView {
  entity: FleetEntity;
}

export const agentView = (event: ObservedEvent): EntityView =>
  event.agent
    ? { key: eventKey(event), entity: 'agent', name: event.agent }
    : { key: eventKey(event), entity: 'app', name: event.app };

/** The model an event used: the one that answered, else the one asked for. */
export const modelOf = (e: ObservedEvent): string | null => e.response_model ?? e.request_model;

export const fleetKey = (tenant: string, entity: FleetEntity, name: string): string => `${tenant}/${entity}:${name}`;

/** The fleet entity of each kind an event involves; names the baselines would refuse as oversized are left out. */
export function fleetViews(event: ObservedEvent): FleetView[] {
  const views: FleetView[] = [];
  const add = (entity: FleetEntity, name: string | null): void => {
    if (name && name.length <= EVENT_LIMITS.maxIdentifierLength)
      views.push({ key: fleetKey(event.tenant, entity, name), entity, name });
  };
  add('user', event.user);
  add('identity', event.identity);
  add('model', modelOf(event));
  add('tool', event.tool_name);
  return views;
}
