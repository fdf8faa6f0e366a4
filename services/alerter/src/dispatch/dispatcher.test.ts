import { describe, expect, it } from 'vitest';
import type { Finding } from '@aispm/core';
import { sampleFinding } from './fixtures.ts';
import { Harness, T0 } from './harness.ts';
import type { SilenceSource } from './dispatcher.ts';

const H = 3600;
const f = (id: string, over: Partial<Finding> = {}): Finding => sampleFinding({ id, ...over });
const resolved = (id: string, over: Partial<Finding> = {}): Finding => f(id, { status: 'resolved', ...over });
/** One route to pd, grouped by type: Alertmanager's default timing (30s, 5m, 4h). */
const simple = { route: { destinations: ['pd'], group_by: ['type'] } };

describe('grouping and timing (virtual clock)', () => {
  it('batches a new group for group_wait, then sends it whole', () => {
    const h = new Harness(simple);
    h.manual = true;
    h.offer(f('a'), 0);
    h.offer(f('b'), 10);
    h.to(29.999);
    expect(h.sent).toEqual([]);
    h.to(30);
    expect(h.log()).toEqual([{ at: 30, to: 'pd', route: 'root', status: 'firing', findings: ['a', 'b'] }]);
    const o = h.sent[0]!.o;
    expect(o.notification.groupKey).toBe('root:{tenant="acme",type="prompt_injection"}');
    expect(o.notification.labels).toEqual({ tenant: 'acme', type: 'prompt_injection' });
    expect(o.notification.tenant).toBe('acme');
    expect(o.refs).toEqual([0, 1]);
    // Held until the notification carrying them settles.
    expect(h.released).toEqual([]);
    h.settle(o);
    expect(h.released.sort()).toEqual([0, 1]);
  });

  it('sends later news after group_interval, carrying only the news', () => {
    const h = new Harness(simple);
    h.offer(f('a'), 0);
    h.offer(f('b'), 60);
    h.to(329.9);
    expect(h.log().map((x) => x.at)).toEqual([30]);
    h.to(330);
    expect(h.log()[1]).toMatchObject({ at: 330, findings: ['b'] });
    h.offer(f('c'), 331);
    h.to(H);
    expect(h.log().map((x) => [x.at, x.findings])).toEqual([
      [30, ['a']],
      [330, ['b']],
      [630, ['c']],
    ]);
  });

  it('repeats an unchanged firing group every repeat_interval with all its firing findings', () => {
    const h = new Harness(simple);
    h.offer(f('a'), 0);
    h.offer(f('b'), 60);
    h.to(4 * H + 29);
    expect(h.log().map((x) => x.at)).toEqual([30, 330]);
    h.to(4 * H + 30);
    expect(h.log()[2]).toMatchObject({ at: 4 * H + 30, status: 'firing', findings: ['a', 'b'] });
    h.to(8 * H + 30);
    expect(h.log().map((x) => x.at)).toEqual([30, 330, 4 * H + 30, 8 * H + 30]);
  });

  it('does not re-notify occurrences of a notified open finding before repeat_interval (dedup by fingerprint)', () => {
    const h = new Harness(simple);
    h.offer(f('a'), 0);
    const dupWaiting = h.offer(f('a', { occurrences: 5 }), 5);
    // An occurrence while the first waits rides with it: released at once, its data in the notification.
    expect(h.released).toEqual([dupWaiting]);
    h.to(30);
    expect(h.sent[0]!.o.notification.findings[0]!.occurrences).toBe(5);
    const later = [h.offer(f('a'), 60), h.offer(f('a'), 600), h.offer(f('a'), 2 * H)];
    expect(h.released).toEqual(expect.arrayContaining(later));
    h.to(4 * H + 29);
    expect(h.sent).toHaveLength(1);
    h.to(4 * H + 30);
    expect(h.sent).toHaveLength(2);
    expect(h.d.stats().counters.duplicate).toBe(4);
  });

  it('sends a resolve for a notified finding and then forgets the group', () => {
    const h = new Harness(simple);
    h.manual = true;
    h.offer(f('a'), 0);
    h.offer(f('b'), 0);
    h.to(30);
    h.settle(h.pending[0]!);
    const r = h.offer(resolved('a'), 60);
    h.to(330);
    expect(h.log()[1]).toEqual({ at: 330, to: 'pd', route: 'root', status: 'resolved', findings: ['a:resolved'] });
    expect(h.released).not.toContain(r);
    h.settle(h.pending[0]!);
    expect(h.released).toContain(r);
    h.offer(resolved('b'), 400);
    h.to(630);
    expect(h.log()[2]).toMatchObject({ at: 630, status: 'resolved', findings: ['b:resolved'] });
    h.settle(h.pending[0]!);
    h.to(24 * H);
    expect(h.sent).toHaveLength(3);
    expect(h.d.stats()).toMatchObject({ groups: 0, findings: 0, heldRefs: 0 });
  });

  it('sends no resolve for a finding never notified, and releases both records at once', () => {
    const h = new Harness(simple);
    const open = h.offer(f('a'), 0);
    const res = h.offer(resolved('a'), 10);
    expect(h.released.sort()).toEqual([open, res]);
    const unknown = h.offer(resolved('zzz'), 20);
    expect(h.released).toContain(unknown);
    h.to(24 * H);
    expect(h.sent).toEqual([]);
    expect(h.d.stats().counters.resolved_unnotified).toBe(2);
    expect(h.d.stats()).toMatchObject({ groups: 0, findings: 0, heldRefs: 0 });
  });

  it('keeps one notification in flight per group and destination: a resolve never overtakes its trigger', () => {
    const h = new Harness(simple);
    h.manual = true;
    h.offer(f('a'), 0);
    h.to(30);
    h.offer(resolved('a'), 60);
    h.to(H);
    expect(h.sent).toHaveLength(1);
    h.settle(h.pending[0]!);
    h.to(H + 299);
    expect(h.sent).toHaveLength(1);
    h.to(H + 300);
    expect(h.log()[1]).toMatchObject({ at: H + 300, findings: ['a:resolved'] });
  });

  it('forgets a resolve that is taken back before it went out (firing again)', () => {
    const h = new Harness(simple);
    h.offer(f('a'), 0);
    h.to(30);
    const res = h.offer(resolved('a'), 60);
    const again = h.offer(f('a'), 70);
    expect(h.released).toEqual(expect.arrayContaining([res, again]));
    h.to(4 * H);
    expect(h.sent).toHaveLength(1);
  });
});

describe('inhibition', () => {
  const routes = { route: { destinations: ['pd'], group_by: ['type', 'asset'] } };

  it('a critical finding mutes lower ones of the same asset and tenant, not of another asset or tenant', () => {
    const h = new Harness(routes);
    h.offer(f('crit', { severity: 'critical', type: 'exfiltration' }), 0);
    const muted = h.offer(f('high', { severity: 'high' }), 1);
    expect(h.released).toContain(muted);
    h.offer(f('other-asset', { severity: 'high', asset: 'agent:billing' }), 2);
    h.offer(f('other-tenant', { severity: 'high', tenant: 'globex' }), 3);
    h.to(60);
    expect(
      h
        .log()
        .flatMap((x) => x.findings)
        .sort(),
    ).toEqual(['crit', 'other-asset', 'other-tenant']);
    expect(h.d.stats().counters.inhibited).toBe(1);
  });

  it('a critical arriving during group_wait mutes the pending lower one; its resolve lifts the inhibition', () => {
    const h = new Harness(routes);
    const high = h.offer(f('high', { severity: 'medium' }), 0);
    h.offer(f('crit', { severity: 'critical', type: 'exfiltration' }), 10);
    h.to(30);
    expect(h.log().flatMap((x) => x.findings)).toEqual([]);
    expect(h.released).toContain(high);
    h.to(40);
    expect(h.log().flatMap((x) => x.findings)).toEqual(['crit']);
    h.offer(resolved('crit', { severity: 'critical', type: 'exfiltration' }), 100);
    h.offer(f('high', { severity: 'medium' }), 200);
    h.to(H);
    // high's group is new (made at 200): group_wait; crit's resolve waits for group_interval after 40.
    expect(h.log().map((x) => [x.at, x.findings])).toEqual([
      [40, ['crit']],
      [230, ['high']],
      [340, ['crit:resolved']],
    ]);
  });

  it('follows configured rules: source and target matchers and equal labels', () => {
    const h = new Harness({
      ...routes,
      inhibit_rules: [{ source: ['type=outage'], target: ['type!=outage'], equal: ['asset_type'] }],
    });
    h.offer(f('outage', { type: 'outage', asset: 'gw', asset_type: 'gateway', severity: 'low' }), 0);
    h.offer(f('same-type', { asset_type: 'gateway', severity: 'critical' }), 1);
    h.offer(f('other-type', { asset_type: 'agent' }), 2);
    h.to(60);
    expect(
      h
        .log()
        .flatMap((x) => x.findings)
        .sort(),
    ).toEqual(['other-type', 'outage']);
  });
});

describe('silences and maintenance windows', () => {
  it('a file silence mutes matching findings in its time range only', () => {
    const h = new Harness({
      ...simple,
      silences: [
        {
          matchers: ['tenant=acme', 'severity<=medium'],
          starts_at: new Date(T0).toISOString(),
          ends_at: new Date(T0 + H * 1000).toISOString(),
          created_by: 'ops',
        },
      ],
    });
    const quiet = h.offer(f('a', { severity: 'medium' }), 0);
    expect(h.released).toEqual([quiet]);
    h.offer(f('b', { severity: 'high', type: 'other' }), 1);
    h.to(H - 1);
    expect(h.log().flatMap((x) => x.findings)).toEqual(['b']);
    h.offer(f('a', { severity: 'medium' }), H);
    h.to(H + 30);
    expect(h.log().flatMap((x) => x.findings)).toEqual(['b', 'a']);
    expect(h.d.stats().counters.silenced).toBe(1);
  });

  it('a silence added at runtime mutes a pending group at once and releases its refs; expiry lets repeats through', () => {
    let silenced = false;
    const api: SilenceSource = { mutes: (x) => silenced && x.tenant === 'acme' };
    const h = new Harness(simple, { silences: api });
    const pending = h.offer(f('a'), 0);
    h.to(10);
    silenced = true;
    h.silencesChanged();
    expect(h.released).toEqual([pending]);
    h.to(4 * H);
    expect(h.sent).toEqual([]);
    expect(h.d.stats().groups).toBe(0);

    // Notified, then silenced: the repeat is muted, the resolve still goes out (the pager must close).
    silenced = false;
    h.offer(f('b'), 5 * H);
    h.to(5 * H + 30);
    silenced = true;
    h.to(9 * H + 31);
    expect(h.sent).toHaveLength(1);
    silenced = false;
    h.to(13 * H + 31);
    expect(h.log().map((x) => x.findings)).toEqual([['b'], ['b']]);
    silenced = true;
    h.offer(resolved('b'), 14 * H);
    h.to(15 * H);
    expect(h.log().map((x) => x.findings)).toEqual([['b'], ['b'], ['b:resolved']]);
  });

  it('a maintenance window mutes by weekday and time of day in its zone, pending groups included', () => {
    // Mondays 11:00–12:00 Berlin = 10:00–11:00 UTC; T0 is Monday 10:00 UTC.
    const h = new Harness(
      {
        ...simple,
        maintenance_windows: [
          {
            name: 'monday',
            matchers: ['asset=db'],
            weekdays: ['mon'],
            from: '11:00',
            to: '12:00',
            zone: 'Europe/Berlin',
            created_by: 'ops',
          },
        ],
      },
      {},
      T0 - 20_000,
    );
    const before = h.offer(f('a', { asset: 'db' }), -20);
    h.offer(f('b', { asset: 'web' }), -20);
    h.to(60);
    // The group fell due at 10:00:10 UTC, inside the window: only b went.
    expect(h.log().flatMap((x) => x.findings)).toEqual(['b']);
    expect(h.released).toContain(before);
    h.offer(f('a', { asset: 'db', type: 'x' }), 1800);
    h.to(H - 1);
    expect(h.log().flatMap((x) => x.findings)).toEqual(['b']);
    h.offer(f('a', { asset: 'db', type: 'x' }), H);
    h.to(H + 30);
    expect(h.log().flatMap((x) => x.findings)).toEqual(['b', 'a']);
  });
});

describe('the routing tree', () => {
  const tree = {
    route: {
      destinations: ['hec'],
      group_wait: '0s',
      routes: [
        { name: 'page', match: ['severity>=high'], destinations: ['pd'], continue: true },
        { name: 'siem', match: ['owasp_llm=~LLM0.*'], destinations: ['hec'] },
        { name: 'shadowed', match: ['owasp_llm=~LLM0.*'], destinations: ['pd'] },
      ],
    },
  };

  it('fans out with continue and holds the record until every destination settled', () => {
    const h = new Harness(tree);
    h.manual = true;
    const ref = h.offer(f('a', { severity: 'critical' }), 0);
    h.to(0);
    expect(h.log().map((x) => [x.route, x.to])).toEqual([
      ['page', 'pd'],
      ['siem', 'hec'],
    ]);
    h.settle(h.pending[0]!);
    expect(h.released).toEqual([]);
    h.settle(h.pending[0]!);
    expect(h.released).toEqual([ref]);
  });

  it('stops at the first match otherwise, and falls back to the parent', () => {
    const h = new Harness(tree);
    h.offer(f('low', { severity: 'low' }), 0);
    h.offer(f('plain', { severity: 'low', owasp_llm: [], type: 'x' }), 0);
    h.to(1);
    expect(h.log().map((x) => [x.route, x.to, x.findings])).toEqual([
      ['siem', 'hec', ['low']],
      ['root', 'hec', ['plain']],
    ]);
  });

  it('sends each destination of a route its own notification, with its own timing', () => {
    const h = new Harness({ route: { destinations: ['pd', 'hec'], group_by: ['type'] } });
    h.manual = true;
    h.offer(f('a'), 0);
    h.to(30);
    expect(h.pending.map((o) => o.destination)).toEqual(['pd', 'hec']);
    h.settle(h.pending[0]!);
    h.offer(f('b'), 40);
    h.to(330);
    // pd settled at 30 and gets b at 330; hec is still in flight with a.
    expect(h.log().map((x) => [x.at, x.to, x.findings])).toEqual([
      [30, 'pd', ['a']],
      [30, 'hec', ['a']],
      [330, 'pd', ['b']],
    ]);
    h.settle(h.pending.find((o) => o.destination === 'hec')!);
    h.to(700);
    expect(
      h
        .log()
        .slice(3)
        .map((x) => [x.at, x.to, x.findings]),
    ).toEqual([[630, 'hec', ['b']]]);
  });
});

describe('tenants are walls', () => {
  it('the same finding types in two tenants never share a group', () => {
    const h = new Harness({ route: { destinations: ['pd'], group_by: ['type'] } });
    h.offer(f('a1', { tenant: 'acme' }), 0);
    h.offer(f('b1', { tenant: 'globex' }), 0);
    h.offer(f('a2', { tenant: 'acme' }), 1);
    h.to(30);
    const byTenant = h.sent.map(({ o }) => [
      o.notification.tenant,
      o.notification.groupKey,
      o.notification.findings.map((x) => `${x.tenant}/${x.id}`),
    ]);
    expect(byTenant).toEqual([
      ['acme', 'root:{tenant="acme",type="prompt_injection"}', ['acme/a1', 'acme/a2']],
      ['globex', 'root:{tenant="globex",type="prompt_injection"}', ['globex/b1']],
    ]);
  });

  it('dedup is per tenant: the same id in another tenant is a different finding', () => {
    const h = new Harness(simple);
    h.offer(f('same', { tenant: 'acme' }), 0);
    h.to(30);
    h.offer(f('same', { tenant: 'globex' }), 60);
    h.offer(resolved('same', { tenant: 'globex' }), 61);
    h.to(H);
    // globex's resolve closed globex's (never sent) finding, not acme's.
    expect(h.log().map((x) => x.findings)).toEqual([['same']]);
    h.to(4 * H + 30);
    expect(h.log().map((x) => x.findings)).toEqual([['same'], ['same']]);
  });
});

describe('rate limits delay, never drop', () => {
  it('a destination over its limit waits for a token and folds later news into the same notification', () => {
    const h = new Harness({
      destinations: [
        { name: 'pd', kind: 'pagerduty', routing_key_env: 'K', rate_limit: { per_minute: 1, burst: 1 } },
        { name: 'hec', kind: 'splunk_hec', url: 'http://127.0.0.1:1', token_env: 'HEC' },
      ],
      route: { destinations: ['pd'], group_by: ['type'] },
    });
    h.offer(f('a', { type: 't1' }), 0);
    h.offer(f('b', { type: 't2' }), 0);
    h.to(60);
    expect(h.log().map((x) => [x.at, x.findings])).toEqual([[30, ['a']]]);
    h.offer(f('c', { type: 't2' }), 70);
    h.to(200);
    expect(h.log().map((x) => [x.at, x.findings])).toEqual([
      [30, ['a']],
      [90, ['b', 'c']],
    ]);
    expect(h.d.stats().counters.rate_limited).toBeGreaterThan(0);
    expect(h.d.stats().heldRefs).toBe(0);
  });

  it("a route's limit is per tenant: one tenant's storm does not hold another's back", () => {
    const h = new Harness({
      route: { destinations: ['pd'], group_by: ['type'], group_wait: '0s', rate_limit: { per_minute: 2, burst: 1 } },
    });
    h.offer(f('a', { type: 't1' }), 0);
    h.offer(f('b', { type: 't2' }), 0);
    h.offer(f('g', { type: 't1', tenant: 'globex' }), 0);
    h.to(100);
    expect(h.log().map((x) => [x.at, x.findings])).toEqual([
      [0, ['a']],
      [0, ['g']],
      [30, ['b']],
    ]);
  });
});

describe('bounds', () => {
  it('evicts the oldest finding of a full group, counted, its ref released', () => {
    const h = new Harness(simple, { maxFindingsPerGroup: 2 });
    const first = h.offer(f('a'), 0);
    h.offer(f('b'), 1);
    expect(h.released).toEqual([]);
    h.offer(f('c'), 2);
    expect(h.released).toEqual([first]);
    h.to(30);
    expect(h.log().map((x) => x.findings)).toEqual([['b', 'c']]);
    expect(h.d.stats()).toMatchObject({ findings: 2, counters: { evicted_findings: 1 } });
  });

  it('releases a record once even when its own offer evicts a group that already took it', () => {
    // The record goes to two routes; making the second route's group evicts the first's.
    const h = new Harness(
      {
        route: {
          destinations: ['hec'],
          routes: [
            { name: 'page', match: ['severity>=high'], destinations: ['pd'], continue: true },
            { name: 'db', match: ['asset=db'], group_by: ['type'] },
          ],
        },
      },
      { maxGroupsPerTenant: 1 },
    );
    const ref = h.offer(f('a', { asset: 'db', severity: 'critical' }), 0);
    expect(h.d.stats()).toMatchObject({ groups: 1, counters: { evicted_groups: 1 } });
    h.to(60);
    expect(h.log().map((x) => x.route)).toEqual(['db']);
    expect(h.released).toEqual([ref]);
  });

  it('evicts the oldest group when all groups together hold the most findings allowed', () => {
    const h = new Harness(simple, { maxFindings: 3 });
    const a = h.offer(f('a', { type: 't1' }), 0);
    const b = h.offer(f('b', { type: 't1' }), 1);
    h.offer(f('c', { type: 't2' }), 2);
    expect(h.released).toEqual([]);
    h.offer(f('d', { type: 't2' }), 3);
    expect(h.released).toEqual([a, b]);
    expect(h.d.stats()).toMatchObject({ groups: 1, findings: 2, counters: { evicted_groups: 1, evicted_findings: 2 } });
    h.to(60);
    expect(h.log().map((x) => x.findings)).toEqual([['c', 'd']]);
  });

  it('evicts groups past the bound, an idle one first, and per tenant before others', () => {
    const h = new Harness(simple, { maxGroups: 3, maxGroupsPerTenant: 2 });
    const a = h.offer(f('a', { type: 't1' }), 0);
    h.to(30); // t1 sent: idle now
    const b = h.offer(f('b', { type: 't2' }), 31);
    const c = h.offer(f('c', { type: 't3' }), 32); // acme at its share: evicts idle t1
    expect(h.d.stats()).toMatchObject({ groups: 2, counters: { evicted_groups: 1, evicted_findings: 0 } });
    h.offer(f('g', { type: 't1', tenant: 'globex' }), 33);
    const g2 = h.offer(f('g2', { type: 't2', tenant: 'globex' }), 34); // global bound: evicts acme's oldest (t2, pending)
    expect(h.d.stats()).toMatchObject({ groups: 3, counters: { evicted_groups: 2, evicted_findings: 1 } });
    expect(h.released).toEqual([a, b]);
    h.to(H);
    expect(h.log().flatMap((x) => x.findings)).toEqual(['a', 'c', 'g', 'g2']);
    expect(h.released).toEqual(expect.arrayContaining([c, g2]));
    expect(h.d.stats().heldRefs).toBe(0);
  });
});
