import type { Finding } from '@aispm/core';

/**
 * What a route hands to its destinations: one group of findings, firing or
 * resolved, as Alertmanager hands a group to its receivers. Destinations decide
 * how to send it (PagerDuty one event per finding, HEC one batch, syslog one line
 * per finding); the alerter decides when.
 */
export interface Notification {
  /** The route's name, as in the routes file. */
  route: string;
  /** Stable per tenant, route and group_by values: the unit of grouping and repeat. */
  groupKey: string;
  tenant: string;
  status: 'firing' | 'resolved';
  /** The group_by label values that formed the group. */
  labels: Readonly<Record<string, string>>;
  /** The findings of the group in this notification, each with its own status. */
  findings: readonly Finding[];
  /** Drill-down into Grafana for a finding, when a Grafana URL is configured. */
  linkOf?: (finding: Finding) => string | undefined;
}

/**
 * The outcome of one attempt to deliver. Failure is expected, so it is a value:
 * `retryable` says whether another attempt can succeed (5xx, 429, a timeout, a
 * refused connection) or never will (a 400: the request itself is wrong).
 */
export type DeliveryResult =
  | { ok: true; status?: number; detail?: string }
  | { ok: false; retryable: true; reason: string; status?: number; retryAfterMs?: number }
  | { ok: false; retryable: false; reason: string; status?: number };

/** One place alerts go: PagerDuty, Splunk HEC, syslog, an OCSF collector, a webhook, Slack. */
export interface Destination {
  /** The name the routes file gives it. */
  readonly name: string;
  /** Its kind: pagerduty, splunk_hec, syslog, ocsf_http, webhook, slack. */
  readonly kind: string;
  /** One attempt; never throws for a failed delivery (that is a result), only for a bug. */
  send(notification: Notification, signal: AbortSignal): Promise<DeliveryResult>;
  close(): Promise<void>;
}
