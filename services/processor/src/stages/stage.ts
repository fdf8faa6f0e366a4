import type { Finding, OutgoingRecord } from '@aispm/core';
import type { BusRecord } from '@aispm/bus';
import type { EntityView, ObservedEvent } from '../baseline/view.ts';
import type { EventSource } from '../scorer.ts';
import type { Score } from '../score/score.ts';

/** One event of a record, with the entity it is scored as; `source` when it was re-keyed from the events topic. */
export interface StageItem<E extends ObservedEvent = ObservedEvent> {
  event: E;
  view: EntityView;
  source?: EventSource;
  /** The event's record as it came off the topic, when the record is this one event (the agents stage). */
  bytes?: Buffer;
}

export interface Scored<E extends ObservedEvent = ObservedEvent> extends StageItem<E> {
  score: Score;
  /** Findings this event raised (anomaly, detections), tracked on its key's lifecycle. */
  findings: Finding[];
  /** Offset of the record on the consumed topic. */
  offset: string;
}

/** Which scored events still owe their rows: all, except after a restore those already stored. */
export interface Fresh<E extends ObservedEvent = ObservedEvent> {
  events: Scored<E>[];
  scores: Scored<E>[];
}

/**
 * What the two processor stages do differently; the checkpoint protocol around
 * them (processor.ts) is one. The agents stage (agents.ts) reads the events topic
 * and owes every event its row and score; the entities stage (entities.ts) reads
 * the events re-keyed by fleet entity and owes only findings and drift, which the
 * processor writes for both.
 */
export interface Stage<E extends ObservedEvent = ObservedEvent> {
  /** The topic consumed. */
  readonly topic: string;
  /**
   * Whether emit writes something for every scored event (the agents stage: its row
   * and its score). When not, the processor keeps only the scored events that raise
   * a finding, so the others die young instead of waiting out the batch's writes.
   */
  readonly perEventOutputs: boolean;
  /** Records handed on to the next stage so far (the agents stage's to the entities topic). */
  readonly forwarded: number;
  /** The events of a record; throws InvalidRecordError for a record to dead-letter. */
  decode(record: BusRecord, nowMs: number): StageItem<E>[];
  /**
   * Step 2 of the checkpoint protocol: with `probe` (after a restore, when the batch
   * may have rows stored already and is not the replay of a recorded cut), leave out
   * what is already stored.
   */
  fresh(scored: Scored<E>[], probe: boolean): Promise<Fresh<E>>;
  /**
   * Step 3, besides findings and drift: the rows and records the batch owes, written
   * together. Returns the dead letters of rows the store refused for good (the batch
   * goes on without them), for the processor to publish.
   */
  emit(fresh: Fresh<E>, scored: Scored<E>[], partition: number): Promise<OutgoingRecord[]>;
}
