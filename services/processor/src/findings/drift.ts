/**
 * The seam for drift output. The scorer's drift engine (services/processor/src/drift,
 * owned with the analytics) closes per-entity windows and hands over one report
 * per closed window; the processor stores every report and turns those over the
 * thresholds into findings. Until the scorer offers reports, none are produced.
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

/** The scorer's drift output if it has one (a method named like DriftSource's). */
export function driftSourceOf(scorer: object): DriftSource | null {
  const candidate = scorer as Partial<DriftSource>;
  return typeof candidate.takeDriftReports === 'function' ? (candidate as DriftSource) : null;
}

/** PSI thresholds (issue 4: 0.1 watch, 0.25 act). */
export interface DriftThresholds {
  watch: number;
  act: number;
}

export const DEFAULT_DRIFT_THRESHOLDS: DriftThresholds = { watch: 0.1, act: 0.25 };
