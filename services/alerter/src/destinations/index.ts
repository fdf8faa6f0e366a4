import type { Destination } from '../notification.ts';
import { destinationOptionError } from './errors.ts';
import { createOcsfHttp } from './ocsf-http.ts';
import type { DestinationConfig } from './options.ts';
import { createPagerDuty } from './pagerduty.ts';
import { createSlack } from './slack.ts';
import { createSplunkHec } from './splunk-hec.ts';
import { createSyslog } from './syslog.ts';
import type { Buckets } from './token-bucket.ts';
import { createWebhook } from './webhook.ts';

/** Seams for tests: a virtual clock, and PagerDuty's rate-limit buckets. */
export interface DestinationDeps {
  now?: () => number;
  buckets?: Buckets;
}

const KINDS = {
  pagerduty: createPagerDuty,
  splunk_hec: createSplunkHec,
  syslog: createSyslog,
  ocsf_http: createOcsfHttp,
  webhook: createWebhook,
  slack: createSlack,
} as const satisfies Record<
  string,
  (config: DestinationConfig, env: NodeJS.ProcessEnv, deps: DestinationDeps) => Destination
>;

export type DestinationKind = keyof typeof KINDS;
export const DESTINATION_KINDS = Object.keys(KINDS) as DestinationKind[];

/**
 * A destination from its entry in the routes file. Its options are validated here,
 * once; a wrong one throws a ConfigError naming the destination, the option and
 * what to write. Secrets are read from the environment or files the options name.
 */
export function createDestination(
  config: DestinationConfig,
  env: NodeJS.ProcessEnv,
  deps: DestinationDeps = {},
): Destination {
  const create = (KINDS as Record<string, (typeof KINDS)[DestinationKind]>)[config.kind];
  if (!create) {
    throw destinationOptionError(
      config.name,
      'kind',
      `unknown kind "${config.kind}"; write one of ${DESTINATION_KINDS.join(', ')}`,
    );
  }
  return create(config, env, deps);
}

export type { DestinationConfig } from './options.ts';
export { DELIVERY_REASONS } from './errors.ts';
export { Buckets } from './token-bucket.ts';
export { PAGERDUTY_LIMITS, PAGERDUTY_SEVERITY, pagerDutyEvent, type PagerDutyEvent } from './pagerduty.ts';
export { HEC_CODES, hecEvent, type HecEvent } from './splunk-hec.ts';
export { cefMessage, syslogLine, CEF_SEVERITY, CEF_VERSION, SYSLOG_SEVERITY, FACILITIES } from './cef.ts';
export { octetCounted } from './syslog.ts';
export { slackEscape, slackMessage } from './slack.ts';
export {
  verifyWebhookSignature,
  webhookSignature,
  webhookBody,
  WEBHOOK_HEADERS,
  type SignatureCheck,
} from './webhook.ts';
