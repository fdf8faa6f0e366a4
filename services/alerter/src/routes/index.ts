// The routes file: destinations, the routing tree, inhibit rules, silences and maintenance windows.
export { loadRoutes, parseRoutes, DEFAULT_ROUTES_FILE } from './compile.ts';
export { matchRoutes, findRoute } from './tree.ts';
export { matchesAll, parseMatcher, severityRank } from './matchers.ts';
export { parseDuration } from './duration.ts';
export { fileSilenceMutes, inMaintenance } from './silences.ts';
export { RoutesError, ROUTES_ERRORS } from './errors.ts';
export {
  MATCH_LABELS,
  GROUP_LABELS,
  WEEKDAYS,
  type CompiledRoute,
  type DestinationSpec,
  type FileSilence,
  type GroupLabel,
  type InhibitRule,
  type MaintenanceWindow,
  type Matcher,
  type MatchLabel,
  type MatchOp,
  type RateLimit,
  type Routes,
} from './types.ts';
