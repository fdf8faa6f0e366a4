export type { DeliveryResult, Destination, Notification } from './notification.ts';
export type { Dispatcher, Outgoing } from './dispatch.ts';
// The routes file and the dispatcher (routing tree, grouping, dedup, inhibition, silences, rate limits).
export {
  loadRoutes,
  parseRoutes,
  matchRoutes,
  findRoute,
  parseMatcher,
  RoutesError,
  DEFAULT_ROUTES_FILE,
  type CompiledRoute,
  type DestinationSpec,
  type Routes,
} from './routes/index.ts';
export {
  createDispatcher,
  DISPATCHER_DEFAULTS,
  type DispatcherOptions,
  type DispatcherStats,
  type RoutingDispatcher,
  type SilenceSource,
} from './dispatch/index.ts';
// Destinations, each behind the Destination interface, made from their routes-file entries.
export { createDestination, DESTINATION_KINDS, type DestinationConfig } from './destinations/index.ts';
// Local receivers that check each API's documented format and play faults: for tests, benches and the demo.
export {
  HttpReceiver,
  PagerDutyReceiver,
  HecReceiver,
  JsonReceiver,
  type Fault,
  type ReceivedRequest,
  type PagerDutyAlert,
} from './testing/receivers/index.ts';
export { startRsyslog, RSYSLOG_INSTALL_HINT, type RsyslogHarness, type RsyslogRecord } from './testing/rsyslog.ts';
export { destinationFinding, destinationNotification } from './testing/sample.ts';
export {
  verifyWebhookSignature,
  webhookSignature,
  WEBHOOK_HEADERS,
  cefMessage,
  CEF_VERSION,
  type SignatureCheck,
} from './destinations/index.ts';
// The service: findings topic → dispatcher → destinations, delivery loop, silences API, metrics.
export {
  startAlerter,
  type AlerterService,
  type AlerterServiceOptions,
  type Ref as AlerterRef,
} from './service/service.ts';
export { alerterOptions, grafanaLink, ALERTER_DEFAULTS, type AlerterOptions } from './service/options.ts';
export { deliver, type DeliveryOutcome, type DeliveryPolicy } from './service/delivery.ts';
export { CircuitBreaker, type BreakerOptions, type BreakerState } from './service/breaker.ts';
export { backoffMs, type BackoffPolicy } from './service/backoff.ts';
export { SilenceStore, parseSilence, parseSilenceMatcher, type Silence } from './service/silences.ts';
export { buildAlerterApi } from './service/api.ts';
export { createAlerterMetrics, type AlerterMetrics } from './service/metrics.ts';
export { ALERTER_ERRORS } from './service/errors.ts';
export { startAlerterProcess, testRoute, type RunningAlerter } from './service/run.ts';
