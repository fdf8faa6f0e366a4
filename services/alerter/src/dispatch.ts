import type { Finding } from '@aispm/core';
import type { Notification } from './notification.ts';

/** One notification due to one destination, with the records it carries. */
export interface Outgoing<R> {
  /** The destination's name, as in the routes file. */
  destination: string;
  notification: Notification;
  /** The records (see Dispatcher.offer) whose findings this notification carries. */
  refs: readonly R[];
}

/**
 * The routing tree, grouping, dedup, inhibition and silences, as Alertmanager's
 * dispatcher: pure and driven by the clock it is given (virtual in tests).
 * `R` is the caller's handle on a record (a topic/partition/offset), so the
 * caller commits a record's offset only once the dispatcher holds it no longer.
 */
export interface Dispatcher<R> {
  /** Takes a finding record (firing or resolved) at `now` (ms since the epoch). */
  offer(finding: Finding, now: number, ref: R): void;
  /** Notifications due by `now`: groups whose group_wait, group_interval or repeat_interval has passed with something to say. */
  due(now: number): Outgoing<R>[];
  /** The earliest time a notification may become due, or null when none is pending. */
  nextDueAt(): number | null;
  /** An outgoing from `due` was delivered or dead-lettered: repeat timing starts at `now`, its refs are let go. */
  settle(outgoing: Outgoing<R>, now: number): void;
  /**
   * Refs the dispatcher holds no longer: every notification carrying them settled,
   * or they needed none (silenced, inhibited, unrouted, a duplicate). Each ref is
   * returned once; the caller may commit its offset.
   */
  released(): R[];
}
