import { findingId, type Severity } from '@aispm/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Outgoing } from '../dispatch.ts';
import type { SilenceSource } from './dispatcher.ts';
import { sampleFinding } from './fixtures.ts';
import { Harness, T0 } from './harness.ts';

const H = 3600;

type Op =
  | { op: 'offer'; tenant: string; asset: string; type: string; severity: Severity; open: boolean }
  | { op: 'advance'; s: number }
  | { op: 'settle'; which: number }
  | { op: 'silence'; on: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('offer' as const),
      tenant: fc.constantFrom('acme', 'globex'),
      asset: fc.constantFrom('a1', 'a2', 'db'),
      type: fc.constantFrom('t1', 't2', 't3'),
      severity: fc.constantFrom<Severity>('low', 'high', 'critical'),
      open: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('advance' as const), s: fc.integer({ min: 0, max: 2 * H }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('settle' as const), which: fc.nat(10) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('silence' as const), on: fc.boolean() }) },
);

/** Routes that exercise every path: fan-out, several destinations, rate limits, a maintenance window, small bounds. */
const file = {
  destinations: [
    { name: 'pd', kind: 'pagerduty', routing_key_env: 'K', rate_limit: { per_minute: 2, burst: 1 } },
    { name: 'hec', kind: 'splunk_hec', url: 'http://127.0.0.1:1', token_env: 'HEC' },
  ],
  route: {
    destinations: ['hec'],
    group_by: ['type'],
    group_wait: '30s',
    group_interval: '2m',
    repeat_interval: '1h',
    routes: [
      { name: 'page', match: ['severity>=high'], destinations: ['pd', 'hec'], group_by: ['asset'], continue: true },
      { name: 'db', match: ['asset=db'], group_wait: '0s', rate_limit: { per_minute: 1 } },
    ],
  },
  maintenance_windows: [
    {
      name: 'mw',
      matchers: ['type=t3'],
      weekdays: ['mon'],
      from: '10:30',
      to: '11:30',
      zone: 'UTC',
      created_by: 'test',
    },
  ],
};

describe('refs: every record offered is released exactly once', () => {
  it('in every path: grouping, dedup, resolve, inhibition, silences, windows, rate limits, fan-out, bounds', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 120 }), fc.boolean(), (ops, tightBounds) => {
        let silenced = false;
        const api: SilenceSource = { mutes: (f) => silenced && f.tenant === 'globex' && f.asset === 'a1' };
        const h = new Harness(
          file,
          tightBounds
            ? { silences: api, maxGroups: 4, maxGroupsPerTenant: 3, maxFindingsPerGroup: 2, maxFindings: 5 }
            : { silences: api },
        );
        h.manual = true;
        const offered: number[] = [];
        const seen = new Set<number>();
        const check = (): void => {
          const carried = new Set(h.pending.flatMap((o) => o.refs));
          for (const r of h.released.splice(0)) {
            expect(seen.has(r), `ref ${r} released twice`).toBe(false);
            expect(carried.has(r), `ref ${r} released while a notification carrying it is in flight`).toBe(false);
            seen.add(r);
          }
        };
        const checkOutgoing = (o: Outgoing<number>): void => {
          expect(o.notification.findings.length).toBeGreaterThan(0);
          for (const x of o.notification.findings) expect(x.tenant).toBe(o.notification.tenant);
          expect(o.notification.groupKey).toContain(`tenant="${o.notification.tenant}"`);
        };
        // What each lane (destination and group) was told is firing: a resolve goes only where its trigger went.
        const firingAt = new Map<string, Set<string>>();
        let checked = 0;
        const checkNew = (): void => {
          for (const { o } of h.sent.slice(checked)) {
            checkOutgoing(o);
            const lane = `${o.destination} ${o.notification.groupKey}`;
            let firing = firingAt.get(lane);
            if (!firing) firingAt.set(lane, (firing = new Set()));
            for (const x of o.notification.findings) {
              if (x.status === 'open') firing.add(x.id);
              else expect(firing.delete(x.id), `resolve of ${x.id} never sent firing to ${lane}`).toBe(true);
            }
            if (!tightBounds) {
              // One notification in flight per lane (with eviction a group's successor may overlap its last one).
              const inFlight = h.pending.filter(
                (p) => p.destination === o.destination && p.notification.groupKey === o.notification.groupKey,
              );
              expect(inFlight.length).toBeLessThanOrEqual(1);
            }
          }
          checked = h.sent.length;
        };
        for (const op of ops) {
          switch (op.op) {
            case 'offer': {
              const rule = 'r';
              const id = findingId(op.tenant, op.type, op.asset, rule);
              const f = sampleFinding({ ...op, id, rule, status: op.open ? 'open' : 'resolved' });
              offered.push(h.offer(f));
              break;
            }
            case 'advance':
              h.to((h.now - T0) / 1000 + op.s);
              break;
            case 'settle':
              if (h.pending.length > 0) h.settle(h.pending[op.which % h.pending.length]!);
              break;
            case 'silence':
              silenced = op.on;
              h.silencesChanged();
              break;
          }
          check();
          checkNew();
        }
        // Drain: deliver everything, let every timer run.
        for (let round = 0; round < 6; round++) {
          while (h.pending.length > 0) {
            h.settle(h.pending[0]!);
            check();
          }
          h.to((h.now - T0) / 1000 + 2 * H);
          check();
          checkNew();
        }
        while (h.pending.length > 0) h.settle(h.pending[0]!);
        check();
        expect([...seen].sort((a, b) => a - b)).toEqual(offered);
        expect(h.d.stats().heldRefs).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});
