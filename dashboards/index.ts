// dashboards/: aispm's Grafana dashboards and alert rules as code (issue 22).

export {
  CLICKHOUSE_PLUGIN,
  CLICKHOUSE_PLUGIN_VERSION,
  DATASOURCE_UID,
  OPERATOR_DATASOURCE_UID,
  ClickHouseQueryBuilder,
  Format,
  datasourceRef,
  operatorDatasourceRef,
  sql,
  type ClickHouseSqlQuery,
  type ColumnKind,
  type QueryType,
} from './clickhouse.ts';
export { type BuiltDashboard } from './common.ts';
export type { PanelQuery } from './panels.ts';
export { VARIABLES } from './variables.ts';
export { ALERT_RULES, PIPELINE_LAG_RECORDS, alertRulesProvisioning, escapeDollars, type AlertRule } from './alerts.ts';
export {
  buildDashboards,
  dashboardsProvisioning,
  datasourceProvisioning,
  writeGrafanaFiles,
  type DatasourceOptions,
  type WrittenFiles,
} from './provisioning.ts';
export {
  expandQuery,
  applyConditionalAll,
  interpolate,
  MACROS,
  type MacroContext,
  type TemplateVariable,
} from './macros.ts';
export { toYaml } from './yaml.ts';
