import type { AiEvent } from '@aispm/core';
import { THIRD_PARTY_SHARE, generateThirdPartyTraffic, type DemoTrace } from './third-party.ts';
import { generateTraffic, type TrafficOptions } from './traffic.ts';

/** The third-party fleet's share of the benign events. */
export const thirdPartyEvents = (benign: number): number => Math.floor(benign * THIRD_PARTY_SHARE);

/**
 * The demo's whole traffic in time order, as traces to publish whole: each event
 * of the fleet (and its scenarios) alone, the third-party fleet's traces with all
 * their spans. Of `total` benign events the third-party fleet makes its share, so
 * the events stored stay `total` plus the injected ones. Deterministic for a seed.
 */
export function* demoTraffic(options: TrafficOptions): Generator<DemoTrace> {
  const events = thirdPartyEvents(options.total);
  const fleet = generateTraffic({ ...options, total: options.total - events });
  const thirdParty = generateThirdPartyTraffic({ ...options, events });
  let a = fleet.next();
  let b = thirdParty.next();
  while (!a.done || !b.done) {
    if (!a.done && (b.done || a.value.time / 1000 <= b.value.timeMs)) {
      yield single(a.value);
      a = fleet.next();
    } else if (!b.done) {
      yield b.value;
      b = thirdParty.next();
    }
  }
}

const single = (event: AiEvent): DemoTrace => ({ timeMs: event.time / 1000, records: [{ event }], events: 1 });
