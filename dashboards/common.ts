import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import type { PanelQuery } from './panels.ts';
import { TENANT, variables } from './variables.ts';

/** A dashboard as built: its JSON model and every panel query, for the file writer and the tests. */
export interface BuiltDashboard {
  uid: string;
  /** File name under the dashboards folder. */
  file: string;
  json: dashboard.Dashboard;
  queries: PanelQuery[];
}

/** The tag every aispm dashboard carries; the dashboards link to each other through it. */
export const TAG = 'aispm';

/** A dashboard with aispm's defaults: last 24 hours, UTC, the tenant/app/agent variables, links to the others. */
export function baseDashboard(
  uid: string,
  title: string,
  description: string,
  tags: string[],
): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags([TAG, ...tags])
    .editable()
    .timezone('utc')
    .time({ from: 'now-24h', to: 'now' })
    .refresh('1m')
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .variables(variables())
    .link(
      new dashboard.DashboardLinkBuilder('aispm')
        .type(dashboard.DashboardLinkType.Dashboards)
        .tags([TAG])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true),
    );
}

export function finish(uid: string, builder: dashboard.DashboardBuilder, queries: PanelQuery[]): BuiltDashboard {
  return { uid, file: `${uid}.json`, json: forGrafana11And12(builder.build()), queries };
}

/**
 * The newest schemaVersion Grafana 11 knows (11.6): Grafana 11 does not migrate a
 * dashboard saved by a newer Grafana, while Grafana 12 migrates this one on load
 * (its step to 42 touches only series hidden from the viz, which no panel here hides).
 */
export const SCHEMA_VERSION = 41;

/**
 * The SDK builds for Grafana 12; these are its additions that Grafana 11's dashboard
 * schema refuses and that the dashboards do not need: the schemaVersion, a variable's
 * `definition` (a display copy of its query) and a link's `placement` (Grafana 12's
 * controls menu; without it, links show where both versions show them).
 */
function forGrafana11And12(json: dashboard.Dashboard): dashboard.Dashboard {
  const withoutPlacement = (link: dashboard.DashboardLink): dashboard.DashboardLink => {
    const copy = { ...link };
    delete copy.placement;
    return copy;
  };
  const panel = (p: dashboard.Panel | dashboard.RowPanel): dashboard.Panel | dashboard.RowPanel => {
    const fieldConfig = 'fieldConfig' in p ? p.fieldConfig : undefined;
    const links = fieldConfig?.defaults.links;
    if (fieldConfig === undefined || links === undefined) return p;
    return {
      ...p,
      fieldConfig: { ...fieldConfig, defaults: { ...fieldConfig.defaults, links: links.map(withoutPlacement) } },
    };
  };
  const { links, templating, panels } = json;
  return {
    ...json,
    schemaVersion: SCHEMA_VERSION,
    ...(links ? { links: links.map(withoutPlacement) } : {}),
    templating: {
      ...templating,
      ...(templating.list
        ? {
            list: templating.list.map((v) => {
              const copy = { ...v };
              delete copy.definition;
              return copy;
            }),
          }
        : {}),
    },
    ...(panels ? { panels: panels.map(panel) } : {}),
  };
}

/**
 * One row per finding: `findings` is an AggregatingMergeTree whose rows for an id
 * merge in the background, so the read merges them first (FINAL), in the order
 * they were stored, as the background merge would. The folded columns are cast from SimpleAggregateFunction(...) to plain types
 * (Grafana's driver reads those), the severity given as text and as a rank to sort by.
 */
export const findingsRows = (where: string): string => `(
  SELECT tenant, id, type,
    CAST(a AS String) AS asset,
    CAST(at AS String) AS asset_type,
    CAST(r AS String) AS rule,
    toString(sev) AS severity,
    toInt8(sev) AS severity_rank,
    CAST(sc AS Float64) AS score,
    CAST(ti AS String) AS title,
    status,
    CAST(fs AS DateTime64(6, 'UTC')) AS first_seen,
    CAST(ls AS DateTime64(6, 'UTC')) AS last_seen,
    occurrences,
    CAST(llm AS Array(String)) AS owasp_llm,
    CAST(agentic AS Array(String)) AS owasp_agentic,
    CAST(atlas AS Array(String)) AS mitre_atlas
  FROM (
    SELECT tenant, id,
      any(type) AS type,
      anyLast(asset) AS a,
      anyLast(asset_type) AS at,
      anyLast(rule) AS r,
      max(severity) AS sev,
      max(score) AS sc,
      anyLast(title) AS ti,
      anyLast(status) AS status,
      min(first_seen) AS fs,
      max(last_seen) AS ls,
      sum(occurrences) AS occurrences,
      anyLast(owasp_llm) AS llm,
      anyLast(owasp_agentic) AS agentic,
      anyLast(mitre_atlas) AS atlas
    -- FINAL merges a finding's records in the order they were stored (its latest status last);
    -- anyLast over unmerged parts would take whichever part was read last.
    FROM findings FINAL
    WHERE ${where}
    GROUP BY tenant, id
  )
)`;

/** Findings of the selected tenants, one row per finding. */
export const FINDINGS = findingsRows(TENANT);
