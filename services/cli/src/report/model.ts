import type { Finding } from '@aispm/core';
import type { Category, InventoryAsset, Posture } from '@aispm/processor';

/** One stored posture score of the tenant (a row of the posture table, asset_kind 'tenant'). */
export interface TrendPoint {
  /** Milliseconds since the epoch. */
  time: number;
  score: number;
  categories: Record<Category, number>;
}

/** Event figures of the period, from the events, anomaly_scores and drift_reports tables. */
export interface EventFigures {
  total: number;
  traces: number;
  toolCalls: number;
  errors: number;
  /** Events that carry a content detector's verdict. */
  withDetections: number;
  /** Events per capture policy (none, hash, redacted, full). */
  byPolicy: Record<string, number>;
  /** Events with an anomaly score, and those scoring 0.8 or more. */
  scored: number;
  anomalous: number;
  driftReports: number;
}

/** Everything the report shows of one tenant and period: the renderer is a pure function of it. */
export interface ReportData {
  tenant: string;
  /** The period, ms since the epoch. */
  from: number;
  to: number;
  generatedAt: number;
  /** Where the data was read ("chdb at …"). */
  via: string;
  /** Whether an inventory policy judged the assets. */
  policyGiven: boolean;
  /** The posture now, computed from the store as `aispm posture` does. */
  posture: Posture;
  /** Stored tenant scores in the period, oldest first. */
  trend: TrendPoint[];
  /**
   * Findings active in the period (last seen at or after `from`, first seen before
   * `to`), open and resolved: open first, then strongest first.
   */
  findings: Finding[];
  /** Assets seen in the period, in (kind, name) order. */
  inventory: InventoryAsset[];
  events: EventFigures;
}
