import { redact, findingId, type Finding, type Severity } from '@aispm/core';
import type { EntityView, ObservedEvent } from '../baseline/view.ts';
import type { Score } from '../score/score.ts';
import type { DriftReport, DriftThresholds } from './drift.ts';
import { referencesFor } from './references.ts';

export const FINDING_MODEL = 'aispm-processor/1';

/** Evidence passes redaction: reasons quote names and values, never raw content, but a value could hold a secret. */
const evidence = (texts: readonly string[]): string[] => texts.map((t) => redact(t).text);

export function anomalySeverity(score: number, threshold: number): Severity {
  if (score >= 0.97) return 'critical';
  if (score >= Math.max(threshold, 0.9)) return 'high';
  return 'medium';
}

/** Whether anomalyFinding() makes a finding of this score. */
export function raisesFinding(score: Score, threshold: number): boolean {
  return !score.learning && score.score >= threshold;
}

/**
 * An anomaly finding when a non-learning score reaches the threshold. The rule is
 * the strongest part's feature, so "token spike on agent X" and "new tool on agent X"
 * are separate findings, each deduplicated over time.
 */
export function anomalyFinding(
  event: Pick<ObservedEvent, 'tenant' | 'event_id' | 'time'>,
  view: EntityView,
  score: Score,
  threshold: number,
): Finding | null {
  if (!raisesFinding(score, threshold)) return null;
  const top = score.parts[0];
  const rule = top?.feature ?? 'score';
  return {
    id: findingId(event.tenant, 'behaviour_anomaly', view.key, rule),
    tenant: event.tenant,
    asset: view.key,
    asset_type: view.entity,
    type: 'behaviour_anomaly',
    rule,
    severity: anomalySeverity(score.score, threshold),
    score: score.score,
    title: `Anomalous ${rule.replaceAll('_', ' ')} on ${view.entity} ${view.name}`,
    evidence: evidence(score.parts.map((p) => p.reason)),
    event_ids: [event.event_id],
    first_seen: event.time,
    last_seen: event.time,
    occurrences: 1,
    status: 'open',
    ...referencesFor(rule),
    model: FINDING_MODEL,
  };
}

/** A drift finding when the window's PSI reaches the watch threshold (low), or the act threshold (medium). */
export function driftFinding(report: DriftReport, thresholds: DriftThresholds): Finding | null {
  if (report.learning || report.psi < thresholds.watch) return null;
  const moved = report.features.slice(0, 3);
  return {
    id: findingId(report.tenant, 'behaviour_drift', report.entity, 'psi'),
    tenant: report.tenant,
    asset: report.entity,
    asset_type: report.entity_type,
    type: 'behaviour_drift',
    rule: 'psi',
    severity: report.psi >= thresholds.act ? 'medium' : 'low',
    score: report.psi,
    title: `Behaviour drift on ${report.entity_type} ${report.entity} (PSI ${report.psi.toFixed(2)})`,
    evidence: evidence(
      moved.map((f) => `${f.feature} moved: PSI ${f.psi.toFixed(3)}, Jensen–Shannon ${f.js.toFixed(3)}`),
    ),
    event_ids: [],
    first_seen: report.window_start,
    last_seen: report.window_end,
    occurrences: 1,
    status: 'open',
    ...referencesFor('drift'),
    model: FINDING_MODEL,
  };
}
