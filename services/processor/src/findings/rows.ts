import { clickhouseTime, type Row } from '@aispm/store';
import type { DriftReport } from './drift.ts';
import type { Finding } from '@aispm/core';

/** The findings row (schemas/clickhouse/004_findings.sql). */
export function findingRow(f: Finding): Row {
  return {
    tenant: f.tenant,
    id: f.id,
    asset: f.asset,
    asset_type: f.asset_type,
    type: f.type,
    rule: f.rule,
    severity: f.severity,
    score: f.score,
    title: f.title,
    evidence: f.evidence,
    event_ids: f.event_ids,
    first_seen: clickhouseTime(f.first_seen),
    last_seen: clickhouseTime(f.last_seen),
    occurrences: f.occurrences,
    status: f.status,
    owasp_llm: f.owasp_llm,
    owasp_agentic: f.owasp_agentic,
    mitre_atlas: f.mitre_atlas,
    model: f.model,
  };
}

/** The drift_reports row (schemas/clickhouse/005_drift_reports.sql). */
export function driftRow(r: DriftReport): Row {
  return {
    tenant: r.tenant,
    entity: r.entity,
    entity_type: r.entity_type,
    window_start: clickhouseTime(r.window_start),
    window_end: clickhouseTime(r.window_end),
    psi: r.psi,
    js: r.js,
    features: r.features.map((f) => f.feature),
    feature_psi: r.features.map((f) => f.psi),
    feature_js: r.features.map((f) => f.js),
    learning: r.learning,
  };
}
