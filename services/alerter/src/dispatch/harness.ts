import type { Finding } from '@aispm/core';
import type { Outgoing } from '../dispatch.ts';
import { parseRoutes } from '../routes/index.ts';
import { createDispatcher, type DispatcherOptions, type RoutingDispatcher } from './dispatcher.ts';

/** Monday 2026-12-07 10:00 UTC: the virtual clock's start in tests. */
export const T0 = Date.parse('2026-12-07T10:00:00Z');

export const TEST_DESTINATIONS = [
  { name: 'pd', kind: 'pagerduty', routing_key_env: 'PD_KEY' },
  { name: 'hec', kind: 'splunk_hec', url: 'http://127.0.0.1:1', token_env: 'HEC' },
];

export interface Sent {
  /** Seconds after T0. */
  at: number;
  o: Outgoing<number>;
}

/**
 * A dispatcher on a virtual clock, as Alertmanager's acceptance tests drive theirs:
 * records go in at given times, the clock jumps from one due time to the next, and
 * what went out is kept with its time. Settles each outgoing at once unless `manual`.
 */
export class Harness {
  readonly d: RoutingDispatcher<number>;
  now: number;
  readonly sent: Sent[] = [];
  readonly released: number[] = [];
  readonly pending: Outgoing<number>[] = [];
  manual = false;
  #nextRef = 0;

  constructor(file: Record<string, unknown>, options: DispatcherOptions = {}, start = T0) {
    const routes = parseRoutes(JSON.stringify({ version: 1, destinations: TEST_DESTINATIONS, ...file }), 'test.json');
    this.d = createDispatcher<number>(routes, options);
    this.now = start;
  }

  /** Offers a record at `atS` seconds after T0 (now when omitted); returns its ref. */
  offer(f: Finding, atS?: number): number {
    if (atS !== undefined) this.to(atS);
    const ref = this.#nextRef++;
    this.d.offer(f, this.now, ref);
    this.#collect();
    return ref;
  }

  /** Runs the clock to `atS` seconds after T0, sending what falls due on the way. */
  to(atS: number): void {
    const target = T0 + atS * 1000;
    for (let guard = 0; ; guard++) {
      if (guard > 100_000) throw new Error('the dispatcher keeps falling due without the clock moving');
      const next = this.d.nextDueAt();
      if (next === null || next > target) break;
      this.now = Math.max(this.now, next);
      for (const o of this.d.due(this.now)) {
        this.sent.push({ at: (this.now - T0) / 1000, o });
        if (this.manual) this.pending.push(o);
        else this.d.settle(o, this.now);
      }
      this.#collect();
    }
    this.now = Math.max(this.now, target);
  }

  silencesChanged(): void {
    this.d.silencesChanged(this.now);
    this.#collect();
  }

  settle(o: Outgoing<number>): void {
    this.pending.splice(this.pending.indexOf(o), 1);
    this.d.settle(o, this.now);
    this.#collect();
  }

  /** What went out, in a form easy to compare: time, destination, route, status and finding ids with status. */
  log(): { at: number; to: string; route: string; status: string; findings: string[] }[] {
    return this.sent.map(({ at, o }) => ({
      at,
      to: o.destination,
      route: o.notification.route,
      status: o.notification.status,
      findings: o.notification.findings.map((f) => (f.status === 'open' ? f.id : `${f.id}:resolved`)),
    }));
  }

  #collect(): void {
    this.released.push(...this.d.released());
  }
}
