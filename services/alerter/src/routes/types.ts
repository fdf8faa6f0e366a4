import type { Severity } from '@aispm/core';

/** Finding fields a matcher can name. Framework ids are lists: `=`/`=~` hold when any id matches. */
export const MATCH_LABELS = [
  'tenant',
  'severity',
  'type',
  'rule',
  'asset',
  'asset_type',
  'model',
  'owasp_llm',
  'owasp_agentic',
  'mitre_atlas',
] as const;
export type MatchLabel = (typeof MATCH_LABELS)[number];

/** Labels a route may group by; `tenant` is always added (tenants are walls). */
export const GROUP_LABELS = ['tenant', 'type', 'rule', 'severity', 'asset', 'asset_type'] as const;
export type GroupLabel = (typeof GROUP_LABELS)[number];

/** Labels an inhibit rule's `equal` may name; `tenant` is always added. */
export const EQUAL_LABELS = GROUP_LABELS;

/** `=` `!=` `=~` `!~` as in Alertmanager; `>=` `<=` on severity only (info < low < medium < high < critical). */
export type MatchOp = '=' | '!=' | '=~' | '!~' | '>=' | '<=';

export interface Matcher {
  label: MatchLabel;
  op: MatchOp;
  value: string;
  /** For `=~` and `!~`: the value anchored at both ends. */
  regex?: RegExp;
  /** As written in the file, for messages and listings. */
  text: string;
}

/** Token bucket: `per_minute` notifications on average, up to `burst` at once. */
export interface RateLimit {
  perMinute: number;
  burst: number;
}

/**
 * One destination as the routes file gives it. `config` is `{name, kind, ...options}`
 * without `rate_limit`: the destination's factory validates its own options (and
 * reads its secrets from `*_env` / `*_file` options, never inline).
 */
export interface DestinationSpec {
  name: string;
  kind: string;
  rateLimit: RateLimit | null;
  config: { name: string; kind: string; [option: string]: unknown };
}

/** A node of the routing tree, options already inherited from its parents. */
export interface CompiledRoute {
  /** Unique in the file; the root is `root` unless named. */
  name: string;
  /** Where it sits in the file (`route.routes[0]`), for messages. */
  path: string;
  matchers: readonly Matcher[];
  /** After matching, keep trying the following siblings (fan-out). */
  continue: boolean;
  destinations: readonly string[];
  /** Always starts with `tenant`. */
  groupBy: readonly GroupLabel[];
  groupWaitMs: number;
  groupIntervalMs: number;
  repeatIntervalMs: number;
  /** Per tenant and route; null when unlimited. */
  rateLimit: RateLimit | null;
  routes: readonly CompiledRoute[];
}

export interface InhibitRule {
  source: readonly Matcher[];
  target: readonly Matcher[];
  /** Always includes `tenant`. */
  equal: readonly GroupLabel[];
}

/** A silence from the routes file: mutes matching firing findings between startsAt and endsAt (ms). */
export interface FileSilence {
  id: string;
  matchers: readonly Matcher[];
  startsAt: number;
  endsAt: number;
  createdBy: string;
  comment: string;
}

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** A recurring silence: on the given weekdays, from `from` to `to` (minutes of the day, local to `zone`). */
export interface MaintenanceWindow {
  name: string;
  matchers: readonly Matcher[];
  weekdays: ReadonlySet<number>;
  fromMinute: number;
  /** May be ≤ fromMinute: the window then runs past midnight into the next day. */
  toMinute: number;
  zone: string;
  createdBy: string;
  comment: string;
}

/** A routes file, validated and compiled. */
export interface Routes {
  /** The file (or the label given to parseRoutes). */
  source: string;
  version: 1;
  destinations: readonly DestinationSpec[];
  root: CompiledRoute;
  /** Every route by name (the root included), for `aispm alerts test ROUTE`. */
  byName: ReadonlyMap<string, CompiledRoute>;
  inhibitRules: readonly InhibitRule[];
  silences: readonly FileSilence[];
  maintenance: readonly MaintenanceWindow[];
}

export type { Severity };
