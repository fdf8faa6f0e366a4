import type { Finding } from '@aispm/core';
import type { Dispatcher, Outgoing } from '../dispatch.ts';
import type { Notification } from '../notification.ts';
import { fileSilenceMutes, matchRoutes, type CompiledRoute, type Routes } from '../routes/index.ts';
import { TimeHeap } from './heap.ts';
import { Inhibitor, labelValue } from './inhibit.ts';
import { RateLimits, type Want } from './rate-limit.ts';

/** What the service's silences (the API's) offer the dispatcher: whether a finding is muted now. */
export interface SilenceSource {
  mutes(finding: Finding, now: number): boolean;
}

export const DISPATCHER_DEFAULTS = {
  /** Groups held at once, over all tenants, and per tenant (so one tenant's storm cannot push the others out). */
  maxGroups: 10_000,
  maxGroupsPerTenant: 2_000,
  /** Findings held per group, and over all groups. */
  maxFindingsPerGroup: 1_000,
  maxFindings: 100_000,
  /** Open findings remembered as inhibition sources. */
  maxInhibitSources: 100_000,
} as const;

export interface DispatcherOptions {
  maxGroups?: number;
  maxGroupsPerTenant?: number;
  maxFindingsPerGroup?: number;
  maxFindings?: number;
  maxInhibitSources?: number;
  /** The API's silences; the routes file's silences and maintenance windows always apply. */
  silences?: SilenceSource;
  /** Grafana drill-down, passed on in each notification. */
  linkOf?: (finding: Finding) => string | undefined;
}

/** Why a record needed no notification, or why one was lost to a bound. */
export const DISPATCH_COUNTERS = [
  'offered',
  'notifications',
  /** An occurrence of a finding already notified or already waiting to be. */
  'duplicate',
  'silenced',
  'inhibited',
  /** A resolve of a finding never notified: nothing to close. */
  'resolved_unnotified',
  /** A due notification held back by a rate limit (delayed, never dropped). */
  'rate_limited',
  /** Findings and groups pushed out by the bounds (their pending notifications lost). */
  'evicted_findings',
  'evicted_groups',
  'evicted_inhibit_sources',
  'evicted_rate_buckets',
] as const;
export type DispatchCounter = (typeof DISPATCH_COUNTERS)[number];

export interface DispatcherStats {
  counters: Readonly<Record<DispatchCounter, number>>;
  groups: number;
  findings: number;
  /** Refs offered and not yet released. */
  heldRefs: number;
  inFlight: number;
}

/** The Dispatcher contract, plus what the service needs around it. */
export interface RoutingDispatcher<R> extends Dispatcher<R> {
  /** The API's silences changed: pending findings they now mute are dropped and their refs released. */
  silencesChanged(now: number): void;
  stats(): DispatcherStats;
}

/** Alertmanager's group key: the route and the group_by values (tenant first), readable in a notification. */
function groupKeyOf(f: Finding, route: CompiledRoute): string {
  return `${route.name}:{${route.groupBy.map((l) => `${l}=${JSON.stringify(labelValue(f, l))}`).join(',')}}`;
}

function* except<T>(items: Iterable<T>, skip: T): Generator<T> {
  for (const x of items) if (x !== skip) yield x;
}

/** A record offered, waiting for every notification that carries it. */
interface Hold<R> {
  ref: R;
  count: number;
  /** Some lane took it as news (else it is counted as why it needed no notification). */
  news: boolean;
}

interface Group<R> {
  key: string;
  tenant: string;
  route: CompiledRoute;
  labels: Readonly<Record<string, string>>;
  firstDueAt: number;
  /** By finding id, the latest record of each (open or resolved), oldest first. */
  entries: Map<string, Finding>;
  lanes: Lane<R>[];
  dead: boolean;
}

/** One group's notifications to one destination: what it was told, what is news to it, its timing. */
interface Lane<R> {
  group: Group<R>;
  destination: string;
  /** Findings notified firing to this destination and not yet resolved to it. */
  sent: Set<string>;
  /** Findings with news for it (new firing, or a resolve of a sent one), each with the first record that made it news. */
  changed: Map<string, Hold<R>>;
  inFlight: Flight<R> | null;
  lastSettledAt: number | null;
  /** When a notification carrying every firing finding last settled: repeat_interval counts from here. */
  lastFullAt: number | null;
  /** Held back by a rate limit until then. */
  notBefore: number;
  scheduledAt: number | null;
}

interface Flight<R> {
  lane: Lane<R>;
  holds: Hold<R>[];
  full: boolean;
}

/**
 * Alertmanager's dispatcher on a given clock. Each record goes down the routing
 * tree; each route it reaches puts it in a group per (tenant, route, group_by
 * values); each group keeps one lane per destination. A lane sends group_wait
 * after the group was made, then at most every group_interval when there is news
 * (a new firing finding, or a resolve of one it was told about), and every
 * repeat_interval all its firing findings. A change notification carries the news
 * only, so a SIEM does not see the same finding again for every new member of its
 * group; a repeat carries every firing finding. One notification is in flight per
 * lane, so a resolve never overtakes its trigger.
 *
 * Refs: the first record that makes a finding news to a lane is held until the
 * notification that carries it settles; a record that is news nowhere (a duplicate,
 * silenced, inhibited, a resolve of something never notified) is released at once.
 * A later duplicate can be released while the earlier record is held, since that
 * record (committed no earlier) stands for the finding on a replay.
 *
 * Rate limits delay, never drop: a lane over its route's or destination's limit
 * waits for a token and meanwhile folds later news into the same notification.
 */
export function createDispatcher<R>(routes: Routes, options: DispatcherOptions = {}): RoutingDispatcher<R> {
  // At least one of each, or nothing could be held at all.
  const maxGroups = Math.max(1, options.maxGroups ?? DISPATCHER_DEFAULTS.maxGroups);
  const maxGroupsPerTenant = Math.max(1, options.maxGroupsPerTenant ?? DISPATCHER_DEFAULTS.maxGroupsPerTenant);
  const maxPerGroup = Math.max(1, options.maxFindingsPerGroup ?? DISPATCHER_DEFAULTS.maxFindingsPerGroup);
  const maxFindings = Math.max(1, options.maxFindings ?? DISPATCHER_DEFAULTS.maxFindings);
  const inhibitor = new Inhibitor(
    routes.inhibitRules,
    options.maxInhibitSources ?? DISPATCHER_DEFAULTS.maxInhibitSources,
  );
  // Route buckets are per tenant and route (at most one per group), destination buckets one per destination.
  const limits = new RateLimits(maxGroups + routes.destinations.length);
  const destinationLimits = new Map(routes.destinations.map((d) => [d.name, d.rateLimit]));

  const counters = Object.fromEntries(DISPATCH_COUNTERS.map((c) => [c, 0])) as Record<DispatchCounter, number>;
  const groups = new Map<string, Group<R>>();
  const byTenant = new Map<string, Set<Group<R>>>();
  /** `tenant\0id` → the groups holding that finding: where its resolve goes, whatever it routes to. */
  const whereIs = new Map<string, Group<R>[]>();
  const heap = new TimeHeap<Lane<R>>();
  const flights = new WeakMap<Outgoing<R>, Flight<R>>();
  let released: R[] = [];
  let held = 0;
  let findings = 0;
  let inFlight = 0;

  const release = (h: Hold<R>): void => {
    if (--h.count > 0) return;
    released.push(h.ref);
    held--;
  };

  const muted = (f: Finding, now: number): 'silenced' | 'inhibited' | null => {
    if (fileSilenceMutes(routes, f, now) !== null || options.silences?.mutes(f, now)) return 'silenced';
    return inhibitor.inhibits(f) ? 'inhibited' : null;
  };

  const idKey = (f: { tenant: string; id: string }): string => `${f.tenant}\u0000${f.id}`;

  const referenced = (g: Group<R>, id: string): boolean => g.lanes.some((l) => l.sent.has(id) || l.changed.has(id));

  const dropEntry = (g: Group<R>, id: string): void => {
    const f = g.entries.get(id);
    if (!f) return;
    g.entries.delete(id);
    findings--;
    const k = idKey(f);
    const where = whereIs.get(k);
    if (!where) return;
    const i = where.indexOf(g);
    if (i >= 0) where.splice(i, 1);
    if (where.length === 0) whereIs.delete(k);
  };

  /** Drops an entry nobody needs any more: not sent firing to any lane and news to none. */
  const dropIfUnreferenced = (g: Group<R>, id: string): void => {
    if (!referenced(g, id)) dropEntry(g, id);
  };

  const dropGroupIfIdle = (g: Group<R>): void => {
    if (g.dead || g.entries.size > 0 || g.lanes.some((l) => l.inFlight)) return;
    removeGroup(g);
  };

  const removeGroup = (g: Group<R>): void => {
    g.dead = true;
    groups.delete(g.key);
    const mine = byTenant.get(g.tenant);
    mine?.delete(g);
    if (mine?.size === 0) byTenant.delete(g.tenant);
    for (const id of [...g.entries.keys()]) dropEntry(g, id);
  };

  const evictGroup = (g: Group<R>): void => {
    counters.evicted_groups++;
    for (const l of g.lanes) {
      counters.evicted_findings += l.changed.size;
      for (const h of l.changed.values()) release(h);
      l.changed.clear();
    }
    removeGroup(g);
  };

  /** The oldest group of a set, preferring one with nothing pending or in flight (only repeats and resolves are lost then). */
  const oldestOf = (set: Iterable<Group<R>>): Group<R> | undefined => {
    let first: Group<R> | undefined;
    let n = 0;
    for (const g of set) {
      first ??= g;
      if (g.lanes.every((l) => l.changed.size === 0 && !l.inFlight)) return g;
      if (++n >= 64) break;
    }
    return first;
  };

  const newGroup = (f: Finding, route: CompiledRoute, key: string, now: number): Group<R> => {
    const labels: Record<string, string> = {};
    for (const l of route.groupBy) labels[l] = labelValue(f, l);
    const mine = byTenant.get(f.tenant);
    if (mine && mine.size >= maxGroupsPerTenant) evictGroup(oldestOf(mine)!);
    if (groups.size >= maxGroups) evictGroup(oldestOf(groups.values())!);
    const g: Group<R> = {
      key,
      tenant: f.tenant,
      route,
      labels,
      firstDueAt: now + route.groupWaitMs,
      entries: new Map(),
      lanes: [],
      dead: false,
    };
    g.lanes = route.destinations.map((destination) => ({
      group: g,
      destination,
      sent: new Set(),
      changed: new Map(),
      inFlight: null,
      lastSettledAt: null,
      lastFullAt: null,
      notBefore: 0,
      scheduledAt: null,
    }));
    groups.set(key, g);
    let set = byTenant.get(f.tenant);
    if (!set) byTenant.set(f.tenant, (set = new Set()));
    set.add(g);
    return g;
  };

  const putEntry = (g: Group<R>, f: Finding): void => {
    if (!g.entries.has(f.id)) {
      if (findings >= maxFindings) {
        const victim = oldestOf(except(groups.values(), g));
        if (victim) evictGroup(victim);
      }
      if (g.entries.size >= maxPerGroup) {
        const oldest = g.entries.keys().next().value!;
        for (const l of g.lanes) {
          const h = l.changed.get(oldest);
          if (h) release(h);
          l.changed.delete(oldest);
          l.sent.delete(oldest);
        }
        dropEntry(g, oldest);
        counters.evicted_findings++;
      }
      findings++;
      const k = idKey(f);
      const where = whereIs.get(k);
      if (where) where.push(g);
      else whereIs.set(k, [g]);
    }
    g.entries.set(f.id, f);
  };

  const dueAt = (l: Lane<R>): number | null => {
    if (l.inFlight || l.group.dead) return null;
    const route = l.group.route;
    let t: number | null = null;
    if (l.changed.size > 0) {
      t =
        l.lastSettledAt === null
          ? l.group.firstDueAt
          : Math.max(l.group.firstDueAt, l.lastSettledAt + route.groupIntervalMs);
    }
    if (l.sent.size > 0 && l.lastFullAt !== null) {
      const repeat = l.lastFullAt + route.repeatIntervalMs;
      t = t === null ? repeat : Math.min(t, repeat);
    }
    return t === null ? null : Math.max(t, l.notBefore);
  };

  const schedule = (l: Lane<R>): void => {
    const t = dueAt(l);
    if (t === l.scheduledAt) return;
    l.scheduledAt = t;
    if (t !== null) heap.push(t, l);
    // Stale entries are skipped as they come up; rebuild when they outnumber the live ones.
    if (heap.size > 1024 && heap.size > 4 * groups.size * Math.max(1, routes.destinations.length)) {
      heap.rebuild((lane, at) => !lane.group.dead && lane.scheduledAt === at);
    }
  };

  /** Drops the news of findings muted now: their records need no notification. */
  const dropMuted = (l: Lane<R>, now: number): void => {
    for (const [id, h] of l.changed) {
      const f = l.group.entries.get(id)!;
      if (f.status !== 'open') continue;
      const why = muted(f, now);
      if (!why) continue;
      l.changed.delete(id);
      counters[why]++;
      release(h);
      dropIfUnreferenced(l.group, id);
    }
  };

  /** The buckets a lane's notification takes a token from: its tenant's route, and its destination. */
  const wantsOf = (l: Lane<R>): Want[] => {
    const wants: Want[] = [];
    const route = l.group.route;
    if (route.rateLimit) wants.push({ key: `r\u0000${l.group.tenant}\u0000${route.name}`, limit: route.rateLimit });
    const dl = destinationLimits.get(l.destination);
    if (dl) wants.push({ key: `d\u0000${l.destination}`, limit: dl });
    return wants;
  };

  const flush = (l: Lane<R>, now: number): Outgoing<R> | null => {
    const g = l.group;
    dropMuted(l, now);
    const full = l.lastFullAt === null || now >= l.lastFullAt + g.route.repeatIntervalMs;
    if (!full && l.changed.size === 0) return null;
    const out: Finding[] = [];
    if (full) {
      for (const f of g.entries.values()) {
        if (f.status === 'open' ? muted(f, now) === null : l.changed.has(f.id)) out.push(f);
      }
    } else {
      for (const id of l.changed.keys()) out.push(g.entries.get(id)!);
    }
    if (out.length === 0) {
      if (l.lastFullAt !== null) l.lastFullAt = now;
      return null;
    }
    const wants = wantsOf(l);
    const wait = wants.length === 0 ? 0 : limits.take(wants, now);
    if (wait > 0) {
      l.notBefore = now + wait;
      counters.rate_limited++;
      return null;
    }
    const holds = [...l.changed.values()];
    l.changed.clear();
    let firing = false;
    for (const f of out) {
      if (f.status === 'open') {
        firing = true;
        l.sent.add(f.id);
      } else {
        l.sent.delete(f.id);
        dropIfUnreferenced(g, f.id);
      }
    }
    const notification: Notification = {
      route: g.route.name,
      groupKey: g.key,
      tenant: g.tenant,
      status: firing ? 'firing' : 'resolved',
      labels: g.labels,
      findings: out,
      ...(options.linkOf ? { linkOf: options.linkOf } : {}),
    };
    const outgoing: Outgoing<R> = { destination: l.destination, notification, refs: holds.map((h) => h.ref) };
    const flight: Flight<R> = { lane: l, holds, full };
    l.inFlight = flight;
    flights.set(outgoing, flight);
    inFlight++;
    counters.notifications++;
    return outgoing;
  };

  const offerFiring = (f: Finding, now: number, hold: Hold<R>): void => {
    const why = muted(f, now);
    for (const route of matchRoutes(routes, f)) {
      const key = groupKeyOf(f, route);
      const existing = groups.get(key);
      if (why !== null && !existing) continue;
      const g = existing ?? newGroup(f, route, key, now);
      if (why === null || g.entries.has(f.id)) putEntry(g, f);
      for (const l of g.lanes) {
        const pending = l.changed.get(f.id);
        if (why !== null) {
          // Muted now: news of it waiting in this lane goes (what was sent stays, and its resolve will follow).
          if (pending) {
            l.changed.delete(f.id);
            release(pending);
          }
        } else if (l.sent.has(f.id)) {
          // Firing again before its resolve went out: the destination still has it firing.
          if (pending) {
            l.changed.delete(f.id);
            release(pending);
          }
        } else if (!pending) {
          l.changed.set(f.id, hold);
          hold.count++;
          hold.news = true;
        }
        schedule(l);
      }
      dropIfUnreferenced(g, f.id);
      dropGroupIfIdle(g);
    }
    if (!hold.news) counters[why ?? 'duplicate']++;
  };

  const offerResolved = (f: Finding, hold: Hold<R>): void => {
    let wasSent = false;
    for (const g of [...(whereIs.get(idKey(f)) ?? [])]) {
      for (const l of g.lanes) {
        const pending = l.changed.get(f.id);
        if (l.sent.has(f.id)) {
          wasSent = true;
          if (!pending) {
            l.changed.set(f.id, hold);
            hold.count++;
            hold.news = true;
          }
        } else if (pending) {
          // Resolved before it was ever sent here: nothing to say.
          l.changed.delete(f.id);
          release(pending);
        }
        schedule(l);
      }
      if (referenced(g, f.id)) g.entries.set(f.id, f);
      else dropEntry(g, f.id);
      dropGroupIfIdle(g);
    }
    if (!hold.news) counters[wasSent ? 'duplicate' : 'resolved_unnotified']++;
  };

  return {
    offer(finding, now, ref) {
      counters.offered++;
      held++;
      // The offer itself counts as a holder, so an eviction during it cannot release the record early.
      const hold: Hold<R> = { ref, count: 1, news: false };
      // Suppressed findings are over as far as a pager is concerned: sent on as resolved.
      const f: Finding = finding.status === 'suppressed' ? { ...finding, status: 'resolved' } : finding;
      inhibitor.observe(f);
      if (f.status === 'open') offerFiring(f, now, hold);
      else offerResolved(f, hold);
      release(hold);
    },

    due(now) {
      const out: Outgoing<R>[] = [];
      const touched: Lane<R>[] = [];
      for (let top = heap.peek(); top && top.at <= now; top = heap.peek()) {
        heap.pop();
        const l = top.item;
        if (l.group.dead || l.scheduledAt !== top.at) continue;
        l.scheduledAt = null;
        const o = flush(l, now);
        if (o) out.push(o);
        touched.push(l);
      }
      for (const l of touched) {
        schedule(l);
        dropGroupIfIdle(l.group);
      }
      return out;
    },

    nextDueAt() {
      for (let top = heap.peek(); top; top = heap.peek()) {
        if (!top.item.group.dead && top.item.scheduledAt === top.at) return top.at;
        heap.pop();
      }
      return null;
    },

    settle(outgoing, now) {
      const flight = flights.get(outgoing);
      if (!flight) return;
      flights.delete(outgoing);
      inFlight--;
      for (const h of flight.holds) release(h);
      const l = flight.lane;
      l.inFlight = null;
      l.lastSettledAt = now;
      if (flight.full) l.lastFullAt = now;
      if (l.group.dead) return;
      schedule(l);
      dropGroupIfIdle(l.group);
    },

    released() {
      const out = released;
      released = [];
      return out;
    },

    silencesChanged(now) {
      for (const g of [...groups.values()]) {
        for (const l of g.lanes) {
          if (l.changed.size === 0) continue;
          dropMuted(l, now);
          schedule(l);
        }
        dropGroupIfIdle(g);
      }
    },

    stats() {
      counters.evicted_inhibit_sources = inhibitor.evicted;
      counters.evicted_rate_buckets = limits.evicted;
      return { counters: { ...counters }, groups: groups.size, findings, heldRefs: held, inFlight };
    },
  };
}
