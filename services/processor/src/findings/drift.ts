/**
 * Drift output. The scorer's drift engine (services/processor/src/drift) closes
 * per-entity windows and hands over one report per closed window; the processor
 * stores every report and turns those over the thresholds into findings.
 */
export interface DriftFeature {
  feature: string;
  psi: number;
  js: number;
}

export interface DriftReport {
  tenant: string;
  /** The partition key of the entity (tenant/app/agent). */
  entity: string;
  entity_type: string;
  /** Window bounds, microseconds since the epoch. */
  window_start: number;
  window_end: number;
  /** The largest PSI and Jensen–Shannon divergence over the entity's distributions. */
  psi: number;
  js: number;
  /** Features that moved most, strongest first. */
  features: DriftFeature[];
  /** True while the baseline compared against is still learning. */
  learning: boolean;
}

export interface DriftSource {
  /** Reports of windows closed since the last call. */
  takeDriftReports(): DriftReport[];
}

/** PSI thresholds (issue 4: 0.1 watch, 0.25 act). */
export interface DriftThresholds {
  watch: number;
  act: number;
}

export const DEFAULT_DRIFT_THRESHOLDS: DriftThresholds = { watch: 0.1, act: 0.25 };
