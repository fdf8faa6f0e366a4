import { InvalidRecordError, type Config, type OutgoingRecord } from '@aispm/core';
import { type BusRecord } from '@aispm/bus';
import { fleetKey } from '../baseline/view.ts';
import { tenantReason } from './agents.ts';
import { createEntityEventsCodec } from './entity-events.ts';
import type { Fresh, Scored, Stage, StageItem } from './stage.ts';

/**
 * The entities stage: the entities topic (events re-keyed by user, identity,
 * model and tool, see entity-events.ts) → fleet-wide baselines. It owes no rows
 * per event: its anomalies and drift become findings and drift reports, which
 * the processor writes. Each event carries its events-topic partition and offset,
 * so a replay of the agents stage is folded once (Scorer.folded).
 */
export class EntitiesStage implements Stage {
  readonly topic: string;
  readonly perEventOutputs = false;
  readonly forwarded = 0;
  private readonly codec = createEntityEventsCodec();

  constructor(topics: Config['topics']) {
    this.topic = topics.entities;
  }

  decode(record: BusRecord): StageItem[] {
    const { tenant, entity, name, source_partition: partition, events } = this.codec.decode(record.value);
    const reason = tenantReason(tenant);
    if (reason) throw new InvalidRecordError('invalid_event', reason);
    const view = { key: fleetKey(tenant, entity, name), entity, name };
    if (record.key !== view.key)
      throw new InvalidRecordError('entity_key_mismatch', `record key ${record.key} is not its entity's (${view.key})`);
    return events.map((event) => ({ event, view, source: { partition, offset: event.offset } }));
  }

  fresh(scored: Scored[]): Promise<Fresh> {
    return Promise.resolve({ events: [], scores: scored });
  }

  emit(): Promise<OutgoingRecord[]> {
    return Promise.resolve([]);
  }
}
