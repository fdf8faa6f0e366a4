import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { parseDuration } from './duration.ts';
import { routesError, RoutesError, ROUTES_ERRORS } from './errors.ts';
import { parseMatcher } from './matchers.ts';
import {
  GROUP_LABELS,
  WEEKDAYS,
  type CompiledRoute,
  type DestinationSpec,
  type FileSilence,
  type GroupLabel,
  type InhibitRule,
  type MaintenanceWindow,
  type Matcher,
  type RateLimit,
  type Routes,
} from './types.ts';

/** The routes file the demo and a default install use. */
export const DEFAULT_ROUTES_FILE = join(import.meta.dirname, '../../../../rules/alerts/routes.v1.json');

/** Destination kinds the alerter has (services/alerter/src/destinations). */
const DESTINATION_KINDS = ['pagerduty', 'splunk_hec', 'syslog', 'ocsf_http', 'webhook', 'slack'] as const;

/** Alertmanager's defaults. */
const DEFAULT_TIMING = { group_wait: '30s', group_interval: '5m', repeat_interval: '4h' } as const;
/** Alertmanager groups everything of a route together by default; here always per tenant. */
const DEFAULT_GROUP_BY: readonly GroupLabel[] = ['tenant'];
/** With no inhibit_rules in the file: a critical finding mutes the lower ones of the same asset. */
const DEFAULT_INHIBIT = [{ source: ['severity=critical'], target: ['severity<=high'], equal: ['tenant', 'asset'] }];

const MAX_ROUTES = 1000;
const MAX_DEPTH = 16;
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const NAME_HINT = 'letters, digits, `_`, `.`, `-` (at most 64)';

const duration = z.string().refine((s) => parseDuration(s) !== null, {
  message: 'write a duration like "30s", "5m", "4h" or "1h30m"',
});
const matchers = z.array(z.string()).max(32);
const rateLimit = z
  .object({
    per_minute: z.number().positive().max(1_000_000),
    burst: z.number().int().min(1).max(1_000_000).optional(),
  })
  .strict();

interface RouteSource {
  name?: string | undefined;
  match?: string[] | undefined;
  continue?: boolean | undefined;
  destinations?: string[] | undefined;
  group_by?: GroupLabel[] | undefined;
  group_wait?: string | undefined;
  group_interval?: string | undefined;
  repeat_interval?: string | undefined;
  rate_limit?: { per_minute: number; burst?: number | undefined } | undefined;
  routes?: RouteSource[] | undefined;
}

const routeSchema: z.ZodType<RouteSource> = z
  .object({
    name: z.string().regex(NAME, NAME_HINT).optional(),
    match: matchers.optional(),
    continue: z.boolean().optional(),
    destinations: z.array(z.string()).min(1).max(32).optional(),
    group_by: z.array(z.enum(GROUP_LABELS)).max(GROUP_LABELS.length).optional(),
    group_wait: duration.optional(),
    group_interval: duration.optional(),
    repeat_interval: duration.optional(),
    rate_limit: rateLimit.optional(),
    get routes() {
      return z.array(routeSchema).max(MAX_ROUTES).optional();
    },
  })
  .strict();

const destinationSchema = z
  .object({
    name: z.string().regex(NAME, NAME_HINT),
    kind: z.enum(DESTINATION_KINDS),
    rate_limit: rateLimit.optional(),
  })
  .catchall(z.unknown());

const isoTime = z.iso.datetime({
  offset: true,
  message: 'write an ISO 8601 time with a zone, e.g. 2026-12-24T18:00:00Z',
});
const clock = z.string().regex(/^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'write a time of day as HH:MM, e.g. 02:00');

const silenceSchema = z
  .object({
    id: z.string().regex(NAME, NAME_HINT).optional(),
    matchers: matchers.min(1),
    starts_at: isoTime,
    ends_at: isoTime,
    created_by: z.string().min(1).max(256),
    comment: z.string().max(4096).default(''),
  })
  .strict();

const maintenanceSchema = z
  .object({
    name: z.string().regex(NAME, NAME_HINT),
    matchers: matchers.min(1),
    weekdays: z.array(z.enum(WEEKDAYS)).min(1).max(7),
    from: clock,
    to: clock,
    zone: z.string().min(1).default('UTC'),
    created_by: z.string().min(1).max(256),
    comment: z.string().max(4096).default(''),
  })
  .strict();

const inhibitSchema = z
  .object({
    source: matchers.min(1),
    target: matchers.min(1),
    equal: z.array(z.enum(GROUP_LABELS)).max(GROUP_LABELS.length).default(['tenant', 'asset']),
  })
  .strict();

const fileSchema = z
  .object({
    version: z.literal(1, { message: 'write "version": 1' }),
    description: z.string().optional(),
    destinations: z.array(destinationSchema).min(1).max(256),
    route: routeSchema,
    inhibit_rules: z.array(inhibitSchema).max(256).optional(),
    silences: z.array(silenceSchema).max(10_000).default([]),
    maintenance_windows: z.array(maintenanceSchema).max(1000).default([]),
  })
  .strict();

type FileSource = z.infer<typeof fileSchema>;

/** Reads and compiles a routes file; throws a RoutesError naming the file, the place and what to write. */
export function loadRoutes(path: string = DEFAULT_ROUTES_FILE): Routes {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RoutesError('routes_unreadable', path, '', ROUTES_ERRORS.routes_unreadable(path, (err as Error).message));
  }
  return parseRoutes(text, path);
}

/** Validates and compiles a routes file's text; `source` names it in errors. */
export function parseRoutes(text: string, source: string): Routes {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new RoutesError('routes_not_json', source, '', ROUTES_ERRORS.routes_not_json(source, (err as Error).message));
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw routesError(source, pathText(issue.path), issueText(issue));
  }
  return compile(parsed.data, source);
}

function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

function issueText(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}; remove or respell (the format is in services/alerter/README.md)`;
  }
  if (issue.code === 'invalid_value') {
    return `${issue.message}; write one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return issue.message;
}

function compile(src: FileSource, source: string): Routes {
  const fail = (path: string, what: string): never => {
    throw routesError(source, path, what);
  };
  const compileMatchers = (texts: readonly string[], path: string): Matcher[] =>
    texts.map((t, i) => {
      const r = parseMatcher(t);
      return r.ok ? r.matcher : fail(`${path}[${i}]`, r.reason);
    });

  const destinations: DestinationSpec[] = [];
  const destinationNames = new Set<string>();
  src.destinations.forEach((d, i) => {
    if (destinationNames.has(d.name))
      fail(`destinations[${i}].name`, `"${d.name}" is defined twice; give each destination its own name`);
    destinationNames.add(d.name);
    const { rate_limit, ...config } = d;
    destinations.push({ name: d.name, kind: d.kind, rateLimit: compileRateLimit(rate_limit), config });
  });

  const byName = new Map<string, CompiledRoute>();
  let count = 0;
  const compileRoute = (r: RouteSource, path: string, parent: CompiledRoute | null, depth: number): CompiledRoute => {
    if (++count > MAX_ROUTES) fail(path, `more than ${MAX_ROUTES} routes; group findings with fewer routes`);
    if (depth > MAX_DEPTH) fail(path, `routes nest deeper than ${MAX_DEPTH}; flatten the tree`);
    if (parent === null) {
      if (r.match) fail(`${path}.match`, 'the root route matches every finding; put matchers on its child routes');
      if (r.continue !== undefined) fail(`${path}.continue`, 'the root route has no siblings; remove "continue"');
      if (!r.destinations) fail(path, 'the root route needs "destinations": where findings no child route matches go');
    }
    const name = r.name ?? (parent === null ? 'root' : fail(`${path}.name`, 'every child route needs a unique "name"'));
    if (byName.has(name)) fail(`${path}.name`, `route name "${name}" is used twice; give each route its own name`);
    const dests = r.destinations ?? parent!.destinations;
    dests.forEach((d, i) => {
      if (!destinationNames.has(d)) {
        fail(
          `${path}.destinations[${i}]`,
          `no destination is named "${d}"; define it under "destinations" or fix the name`,
        );
      }
      if (dests.indexOf(d) !== i) fail(`${path}.destinations[${i}]`, `"${d}" is listed twice; list it once`);
    });
    const ms = (k: 'group_wait' | 'group_interval' | 'repeat_interval', inherited: number | undefined): number =>
      r[k] !== undefined ? parseDuration(r[k])! : (inherited ?? parseDuration(DEFAULT_TIMING[k])!);
    const groupIntervalMs = ms('group_interval', parent?.groupIntervalMs);
    const repeatIntervalMs = ms('repeat_interval', parent?.repeatIntervalMs);
    if (groupIntervalMs <= 0) fail(`${path}.group_interval`, 'must be more than 0; write e.g. "5m"');
    if (repeatIntervalMs <= 0) fail(`${path}.repeat_interval`, 'must be more than 0; write e.g. "4h"');
    const children: CompiledRoute[] = [];
    const route: CompiledRoute = {
      name,
      path,
      matchers: r.match ? compileMatchers(r.match, `${path}.match`) : [],
      continue: r.continue ?? false,
      destinations: dests,
      groupBy: r.group_by ? withTenant(r.group_by) : (parent?.groupBy ?? DEFAULT_GROUP_BY),
      groupWaitMs: ms('group_wait', parent?.groupWaitMs),
      groupIntervalMs,
      repeatIntervalMs,
      rateLimit: r.rate_limit ? compileRateLimit(r.rate_limit) : (parent?.rateLimit ?? null),
      routes: children,
    };
    byName.set(name, route);
    (r.routes ?? []).forEach((c, i) => children.push(compileRoute(c, `${path}.routes[${i}]`, route, depth + 1)));
    return route;
  };
  const root = compileRoute(src.route, 'route', null, 0);

  const inhibitRules: InhibitRule[] = (src.inhibit_rules ?? DEFAULT_INHIBIT).map((r, i) => ({
    source: compileMatchers(r.source, `inhibit_rules[${i}].source`),
    target: compileMatchers(r.target, `inhibit_rules[${i}].target`),
    equal: withTenant(r.equal as GroupLabel[]),
  }));

  const silenceIds = new Set<string>();
  const silences: FileSilence[] = src.silences.map((s, i) => {
    const path = `silences[${i}]`;
    const id = s.id ?? `file-${i}`;
    if (silenceIds.has(id)) fail(`${path}.id`, `silence id "${id}" is used twice; give each its own id`);
    silenceIds.add(id);
    const startsAt = Date.parse(s.starts_at);
    const endsAt = Date.parse(s.ends_at);
    if (endsAt <= startsAt) fail(`${path}.ends_at`, 'must be after starts_at');
    return {
      id,
      matchers: compileMatchers(s.matchers, `${path}.matchers`),
      startsAt,
      endsAt,
      createdBy: s.created_by,
      comment: s.comment,
    };
  });

  const windowNames = new Set<string>();
  const maintenance: MaintenanceWindow[] = src.maintenance_windows.map((w, i) => {
    const path = `maintenance_windows[${i}]`;
    if (windowNames.has(w.name)) fail(`${path}.name`, `window name "${w.name}" is used twice; give each its own name`);
    windowNames.add(w.name);
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: w.zone });
    } catch {
      fail(`${path}.zone`, `unknown time zone "${w.zone}"; write an IANA zone such as "UTC" or "Europe/Berlin"`);
    }
    const fromMinute = minuteOf(w.from);
    const toMinute = minuteOf(w.to);
    if (fromMinute === toMinute)
      fail(`${path}.to`, 'must differ from "from"; for a whole day write from "00:00" to "24:00"');
    if (fromMinute === 24 * 60) fail(`${path}.from`, 'write a time before 24:00');
    return {
      name: w.name,
      matchers: compileMatchers(w.matchers, `${path}.matchers`),
      weekdays: new Set(w.weekdays.map((d) => WEEKDAYS.indexOf(d))),
      fromMinute,
      toMinute,
      zone: w.zone,
      createdBy: w.created_by,
      comment: w.comment,
    };
  });

  return { source, version: 1, destinations, root, byName, inhibitRules, silences, maintenance };
}

function withTenant(labels: readonly GroupLabel[]): GroupLabel[] {
  return ['tenant', ...new Set(labels.filter((l) => l !== 'tenant'))];
}

function compileRateLimit(r: { per_minute: number; burst?: number | undefined } | undefined): RateLimit | null {
  if (!r) return null;
  // A minute's worth at once by default, and at least one so a slow limit can send at all.
  return { perMinute: r.per_minute, burst: r.burst ?? Math.max(1, Math.ceil(r.per_minute)) };
}

function minuteOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return h * 60 + m;
}
