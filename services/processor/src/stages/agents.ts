import {
  InvalidRecordError,
  createEventCodec,
  invalidReason,
  type AiEvent,
  type Config,
  type Logger,
  type OutgoingRecord,
} from '@aispm/core';
import { type Bus, type BusRecord } from '@aispm/bus';
import {
  clickhouseTime,
  dedupToken,
  eventRow,
  EVENTS_FROM_AVRO,
  EVENTS_TABLE,
  insertResilient,
  type Refused,
  type ResilientInsertOptions,
  type Row,
  type Store,
} from '@aispm/store';
import { storeDeadLetter } from '../dead-letter.ts';
import { agentView, type ObservedEvent } from '../baseline/view.ts';
import { createScoreCodec } from '../score/score-codec.ts';
import { SCORES_FROM_AVRO, SCORES_TABLE, scoreRecord } from '../sink.ts';
import { mapInSlices } from '../time-slices.ts';
import { createEntityEventsCodec, encodeWithin, entityRecords } from './entity-events.ts';
import type { Fresh, Scored, Stage, StageItem } from './stage.ts';
import { sourceOf } from '../traces/source.ts';

export interface AgentsStageOptions {
  bus: Bus;
  store: Store;
  topics: Config['topics'];
  log: Logger;
  /** The topic consumed: the attributed topic (default), or the events topic when no traces stage runs before. */
  topic?: string;
  /** Re-key each event by its user, identity, model and tool onto the entities topic, for the entities stage. */
  fleet: boolean;
  /** How inserts retry and split (the processor's, which counts the retries). */
  resilience?: ResilientInsertOptions;
}

/** Event ids per probe query: about 100 KB of URL at most. */
export const PROBE_IDS_PER_QUERY = 2000;

/** A probe's answer: an event (`t` = 'e') or a score (`t` = 's') the store holds. */
type ProbeRow = { tenant: string; event_id: string; t: string };

/** The agents stage: events topic → per-agent scores; each event's row and score are stored and its score published. */
export class AgentsStage implements Stage<AiEvent> {
  readonly topic: string;
  readonly perEventOutputs = true;
  forwarded = 0;
  private readonly codec = createEventCodec();
  private readonly scoreCodec = createScoreCodec();
  private readonly entityCodec = createEntityEventsCodec();
  private readonly options: AgentsStageOptions;

  constructor(options: AgentsStageOptions) {
    this.options = options;
    this.topic = options.topic ?? options.topics.attributed;
  }

  decode(record: BusRecord, nowMs: number): StageItem<AiEvent>[] {
    const event = this.codec.decode(record.value);
    const reason = invalidReason(event, nowMs) ?? tenantReason(event.tenant);
    if (reason) throw new InvalidRecordError('invalid_event', reason);
    // From the traces stage: where it came from, so a replay of that stage is folded once.
    return [{ event, view: agentView(event), bytes: record.value, source: sourceOf(record.headers) }];
  }

  /**
   * Which of these events already have rows (a batch that crashed before its
   * checkpoint). Probing ends with the first batch holding an event not yet scored
   * into the store: rows are written in offset order, so none after it exist.
   * An event is its (tenant, event_id) pair: the id comes from the span's trace and
   * span ids, which two tenants may share, so a row of another tenant's event with
   * the same id says nothing about this one.
   */
  async fresh(scored: Scored<AiEvent>[], probe: boolean): Promise<Fresh<AiEvent>> {
    if (!probe || scored.length === 0) return { events: scored, scores: scored };
    const rows: ProbeRow[] = [];
    // The ids travel in the URL's query parameters: a slice at a time keeps the request line far
    // below a server's limit (http_max_uri_size, 1 MiB by default) at any batch size.
    for (let at = 0; at < scored.length; at += PROBE_IDS_PER_QUERY) {
      rows.push(...(await this.probe(scored.slice(at, at + PROBE_IDS_PER_QUERY))));
    }
    const inEvents = new Set(rows.filter((r) => r.t === 'e').map((r) => tenantEventId(r.tenant, r.event_id)));
    const inScores = new Set(rows.filter((r) => r.t === 's').map((r) => tenantEventId(r.tenant, r.event_id)));
    const events = scored.filter((s) => !inEvents.has(tenantEventId(s.event.tenant, s.event.event_id)));
    const scores = scored.filter((s) => !inScores.has(tenantEventId(s.event.tenant, s.event.event_id)));
    const stored = scored.length - scores.length;
    if (stored > 0) this.options.log.info('replayed events already in the store', { events: stored });
    return { events, scores };
  }

  /** The rows of events and scores the store holds for these events. */
  private probe(scored: Scored<AiEvent>[]): Promise<ProbeRow[]> {
    const times = scored.map((s) => s.event.time);
    const params = {
      ids: scored.map((s) => s.event.event_id),
      tenants: [...new Set(scored.map((s) => s.event.tenant))],
      from: clickhouseTime(Math.min(...times)),
      to: clickhouseTime(Math.max(...times)),
    };
    const where =
      'tenant IN {tenants:Array(String)} AND time >= {from:DateTime64(6)} AND time <= {to:DateTime64(6)} ' +
      'AND event_id IN {ids:Array(String)}';
    return this.options.store.query<ProbeRow>(
      `SELECT DISTINCT tenant, event_id, 'e' AS t FROM events WHERE ${where}
       UNION ALL SELECT DISTINCT tenant, event_id, 's' AS t FROM anomaly_scores WHERE ${where}`,
      params,
    );
  }

  async emit(fresh: Fresh<AiEvent>, scored: Scored<AiEvent>[], partition: number): Promise<OutgoingRecord[]> {
    const { bus, topics, fleet } = this.options;
    // Started before the encoding below, which yields; marked handled so that a failure
    // meanwhile is not an unhandled rejection (Promise.all below still sees it).
    const source = this.source(scored, partition);
    const events = this.storeEvents(fresh.events, source, partition);
    events.catch(() => undefined);
    if (scored.length === 0) return events;
    // Encoded once: the record published is also what the store reads its row from.
    const values = await mapInSlices(scored, (s) => this.scoreCodec.encode(scoreRecord(s.event, s.view, s.score)));
    const [refusedEvents, , refusedScores] = await Promise.all([
      events,
      bus.publish(
        topics.scores,
        scored.map((s, i) => ({ key: s.view.key, value: values[i]! })),
      ),
      this.storeScores(
        fresh.scores === scored
          ? values.map((value, i) => ({ s: scored[i]!, value }))
          : freshValues(fresh.scores, scored, values),
        tokenOf([...source, SCORES_TABLE], fresh.scores),
        partition,
      ),
      // Every scored event, even one whose rows were stored before a crash: the entities stage
      // folds each event once by its offset (Scorer.folded), so republishing loses nothing and counts nothing twice.
      fleet ? this.forward(scored, partition) : undefined,
    ]);
    return [...refusedEvents, ...refusedScores];
  }

  private async forward(scored: Scored<AiEvent>[], partition: number): Promise<void> {
    const grouped = await entityRecords(scored, partition);
    const encoded = await mapInSlices(grouped, ({ key, value }) =>
      encodeWithin(this.entityCodec, value).map((bytes) => ({ key, value: bytes })),
    );
    const records = encoded.flat();
    await this.options.bus.publish(this.options.topics.entities, records);
    this.forwarded += records.length;
  }

  /**
   * Events written with the codec's own schema are stored from their records as they
   * came; any other (an older schema version's, resolved on decode) from its row.
   */
  private async storeEvents(events: Scored<AiEvent>[], source: string[], partition: number): Promise<OutgoingRecord[]> {
    const { store, resilience } = this.options;
    const fromBodies: { s: Scored<AiEvent>; body: Buffer }[] = [];
    const fromRows: { s: Scored<AiEvent>; row: Row }[] = [];
    for (const s of events) {
      const body = s.bytes && this.codec.ownBody(s.bytes);
      if (body) fromBodies.push({ s, body });
      else fromRows.push({ s, row: eventRow(s.event) });
    }
    const [avro, rows] = await Promise.all([
      insertResilient(
        fromBodies,
        tokenOf(
          [...source, EVENTS_TABLE, 'avro'],
          fromBodies.map((b) => b.s),
        ),
        (part, dedupToken) =>
          store.insertAvro(
            EVENTS_TABLE,
            EVENTS_FROM_AVRO,
            { schema: this.codec.schema, bodies: part.map((b) => b.body) },
            { dedupToken },
          ),
        resilience,
      ),
      insertResilient(
        fromRows,
        tokenOf(
          [...source, EVENTS_TABLE, 'rows'],
          fromRows.map((r) => r.s),
        ),
        (part, dedupToken) =>
          store.insert(
            EVENTS_TABLE,
            part.map((r) => r.row),
            { dedupToken },
          ),
        resilience,
      ),
    ]);
    // The event as it came off the topic, or its row when it came in an older schema.
    return [
      ...this.deadLetters(avro, partition, EVENTS_TABLE, (b) => b.s.bytes!),
      ...this.deadLetters(rows, partition, EVENTS_TABLE, (r) => Buffer.from(JSON.stringify(r.row))),
    ];
  }

  private async storeScores(
    values: { s: Scored<AiEvent>; value: Buffer }[],
    dedupToken: string,
    partition: number,
  ): Promise<OutgoingRecord[]> {
    const refused = await insertResilient(
      values,
      dedupToken,
      (part, token) =>
        this.options.store.insertAvro(
          SCORES_TABLE,
          SCORES_FROM_AVRO,
          { schema: this.scoreCodec.schema, bodies: part.map(({ value }) => this.scoreCodec.ownBody(value)!) },
          { dedupToken: token },
        ),
      this.options.resilience,
    );
    // The score record as published on the scores topic.
    return this.deadLetters(refused, partition, SCORES_TABLE, (v) => v.value);
  }

  /** Dead letters of the items of an event's rows the store refused, keyed as the event's state. */
  private deadLetters<T extends { s: Scored<AiEvent> }>(
    refused: Refused<T>[],
    partition: number,
    table: string,
    value: (item: T) => Buffer,
  ): OutgoingRecord[] {
    return refused.map(({ item, error }) =>
      storeDeadLetter(item.s.view.key, value(item), table, error, {
        topic: this.topic,
        partition,
        offset: item.s.offset,
      }),
    );
  }

  /**
   * Where a batch's rows come from, for their inserts' deduplication tokens: this
   * stage's topic, the partition and the offsets of the events scored. A replay of
   * the batch (after a crash before its checkpoint) scores the same events from the
   * same state, so its inserts carry the same tokens and the engine drops those the
   * first run wrote (issue 22: exactly-once into the store).
   */
  private source(scored: Scored<AiEvent>[], partition: number): string[] {
    const first = scored[0]?.offset ?? '';
    const last = scored.at(-1)?.offset ?? '';
    return ['agents', this.topic, String(partition), `${first}-${last}`];
  }
}

/** An event's identity across tenants: ids are the span's own and may repeat in another tenant. */
const tenantEventId = (tenant: string, eventId: string): string => `${tenant}\u0000${eventId}`;

/**
 * State keys start with the tenant and a `/` (baseline/view.ts), and so do the
 * entity keys on the entities topic and processor_state's: a tenant holding a `/`
 * could name another tenant's keys ("a/b" + app "c" is "a" + app "b/c"). The
 * gateway's and shim's tenants never do (1-64 letters, digits, . _ -); an event
 * published to the topic by other means is dead-lettered.
 */
export function tenantReason(tenant: string): string | null {
  return tenant.includes('/')
    ? `tenant ${JSON.stringify(tenant)} holds a "/", which state keys use as separator`
    : null;
}

/**
 * The token of an insert of these events' rows: the batch's source and a digest of the
 * rows' offsets (a record's row is the same in every replay, so its offset names it).
 * After a probe left some rows out (Stage.fresh), the rest get a token of their own.
 */
function tokenOf(source: string[], rows: Scored<AiEvent>[]): string {
  return dedupToken(source, offsetsOf(rows));
}

function* offsetsOf(rows: Scored<AiEvent>[]): Generator<string> {
  for (const { offset } of rows) yield offset;
}

/** The values of the fresh among the scored events (after a restore, some may be stored already). */
function freshValues<E extends ObservedEvent>(
  fresh: Scored<E>[],
  scored: Scored<E>[],
  values: Buffer[],
): { s: Scored<E>; value: Buffer }[] {
  const owed = new Set(fresh);
  const out: { s: Scored<E>; value: Buffer }[] = [];
  for (let i = 0; i < scored.length; i++) if (owed.has(scored[i]!)) out.push({ s: scored[i]!, value: values[i]! });
  return out;
}
