import { sql } from './clickhouse.ts';
import { baseDashboard, finish, FINDINGS, type BuiltDashboard } from './common.ts';
import { panel, postureThresholds, type PanelQuery } from './panels.ts';
import { TENANT } from './variables.ts';

const TENANT_ROWS = `FROM posture WHERE asset_kind = 'tenant' AND ${TENANT}`;

export function postureOverview(): BuiltDashboard {
  const q: PanelQuery[] = [];
  const uid = 'aispm-posture';
  const d = baseDashboard(
    uid,
    'aispm · Posture overview',
    'Tenant posture score and trend, the riskiest assets, and open findings by severity and framework.',
    ['posture'],
  )
    .withPanel(
      panel(
        {
          kind: 'stat',
          title: 'Posture score',
          description: 'Latest 0–100 posture score, averaged over the selected tenants.',
          w: 6,
          min: 0,
          max: 100,
          thresholds: postureThresholds(),
          query: sql(
            `SELECT round(avg(score), 1) AS score FROM (
  SELECT tenant, argMax(score, time) AS score
  ${TENANT_ROWS} AND $__timeFilter(time)
  GROUP BY tenant
)`,
            { score: 'number' },
          ),
        },
        q,
      ),
    )
    .withPanel(
      panel(
        {
          kind: 'stat',
          title: 'Open findings',
          description: 'Findings still open whose last occurrence is in the time range.',
          w: 6,
          query: sql(
            `SELECT count() AS open_findings FROM ${FINDINGS}
WHERE status = 'open' AND $__timeFilter(last_seen)`,
            { open_findings: 'number' },
          ),
        },
        q,
      ),
    )
    .withPanel(
      panel(
        {
          kind: 'timeseries',
          title: 'Posture trend',
          description: 'Tenant posture score over time, one series per tenant.',
          w: 12,
          min: 0,
          max: 100,
          query: sql(
            `SELECT $__timeInterval(time) AS t, tenant, round(avg(score), 1) AS score
${TENANT_ROWS} AND $__timeFilter(time)
GROUP BY t, tenant
ORDER BY t`,
            { t: 'time', tenant: 'string', score: 'number' },
          ),
        },
        q,
      ),
    )
    .withPanel(
      panel(
        {
          kind: 'barchart',
          title: 'Posture breakdown',
          description: 'Points lost per category at the latest run (higher is worse), per tenant.',
          w: 12,
          query: sql(
            `SELECT tenant,
  argMax(injection_exposure, time) AS injection_exposure,
  argMax(data_leakage, time) AS data_leakage,
  argMax(agency, time) AS agency,
  argMax(shadow_ai, time) AS shadow_ai,
  argMax(model_integrity, time) AS model_integrity,
  argMax(anomalies, time) AS anomalies
${TENANT_ROWS} AND $__timeFilter(time)
GROUP BY tenant
ORDER BY tenant`,
            {
              tenant: 'string',
              injection_exposure: 'number',
              data_leakage: 'number',
              agency: 'number',
              shadow_ai: 'number',
              model_integrity: 'number',
              anomalies: 'number',
            },
          ),
        },
        q,
      ),
    )
    .withPanel(
      panel(
        {
          kind: 'piechart',
          title: 'Open findings by severity',
          description: 'Open findings, by their highest severity.',
          w: 12,
          query: sql(
            `SELECT severity, count() AS findings
FROM ${FINDINGS}
WHERE status = 'open' AND $__timeFilter(last_seen)
GROUP BY severity
ORDER BY any(severity_rank) DESC`,
            { severity: 'string', findings: 'number' },
          ),
        },
        q,
      ),
    )
    .withPanel(
      panel(
        {
          kind: 'table',
          title: 'Riskiest assets',
          description: 'Assets with the lowest posture score at their latest run, with the action that gains most.',
          w: 24,
          h: 10,
          query: sql(
            `SELECT tenant, asset_kind AS kind, asset,
  argMax(score, time) AS score,
  argMax(open_findings, time) AS open_findings,
  argMax(approval, time) AS approval,
  argMax(owner, time) AS owner,
  argMax(actions, time)[1] AS top_action
FROM posture
WHERE asset_kind != 'tenant' AND ${TENANT} AND $__timeFilter(time)
GROUP BY tenant, asset_kind, asset
ORDER BY score ASC, open_findings DESC
LIMIT 25`,
            {
              tenant: 'string',
              kind: 'string',
              asset: 'string',
              score: 'number',
              open_findings: 'number',
              approval: 'string',
              owner: 'string',
              top_action: 'string',
            },
          ),
        },
        q,
      ),
    )
    .withPanel(
      panel(
        {
          kind: 'table',
          title: 'Open findings by framework',
          description: 'Open findings per OWASP LLM Top 10 (2025), OWASP Agentic (2026) and MITRE ATLAS reference.',
          w: 24,
          h: 10,
          query: sql(
            `SELECT ref.1 AS framework, ref.2 AS reference, count() AS findings,
  argMax(severity, severity_rank) AS worst_severity
FROM ${FINDINGS}
ARRAY JOIN arrayConcat(
  arrayMap(x -> ('OWASP LLM 2025', x), owasp_llm),
  arrayMap(x -> ('OWASP Agentic 2026', x), owasp_agentic),
  arrayMap(x -> ('MITRE ATLAS', x), mitre_atlas)
) AS ref
WHERE status = 'open' AND $__timeFilter(last_seen)
GROUP BY framework, reference
ORDER BY framework, findings DESC`,
            { framework: 'string', reference: 'string', findings: 'number', worst_severity: 'string' },
          ),
        },
        q,
      ),
    );
  return finish(uid, d, q);
}
