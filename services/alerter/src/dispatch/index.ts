// The dispatcher: routing, grouping, dedup, inhibition, silences and rate limits on a given clock.
export {
  createDispatcher,
  DISPATCHER_DEFAULTS,
  type DispatcherOptions,
  type DispatcherStats,
  type RoutingDispatcher,
  type SilenceSource,
} from './dispatcher.ts';
