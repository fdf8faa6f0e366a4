// @aispm/cli: the `aispm` command. Exported for tests and embedding.

export { runDemo, DEMO_POLICY, type DemoOptions, type DemoResult } from './commands/demo.ts';
export { startRuntime, type Runtime } from './runtime.ts';
export {
  generateTraffic,
  injectedCount,
  SCENARIOS,
  LABEL_ATTRIBUTE,
  type TrafficOptions,
  type Scenario,
} from './demo/traffic.ts';
export { ALERT_SCORE, type DemoSummary } from './demo/summary.ts';
export { demoTraffic, thirdPartyEvents } from './demo/mix.ts';
export {
  THIRD_PARTY_FLEET,
  addTruth,
  generateThirdPartyTraffic,
  noTruth,
  truthOf,
  type DemoTrace,
  type TraceTruth,
} from './demo/third-party.ts';
