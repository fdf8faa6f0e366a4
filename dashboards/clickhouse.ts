import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type * as common from '@grafana/grafana-foundation-sdk/common';

/**
 * A typed builder for the query model of Grafana's ClickHouse datasource plugin
 * (`grafana-clickhouse-datasource` 4.x, src/types/sql.ts `CHSqlQuery`), which the
 * foundation SDK does not ship. Only the SQL editor is modelled: every aispm panel
 * is raw SQL with the plugin's macros.
 */

/** The plugin's id: the datasource `type` of every panel and variable. */
export const CLICKHOUSE_PLUGIN = 'grafana-clickhouse-datasource';
/** The plugin version the queries were written for (saved as `pluginVersion`, as the plugin's editor does). */
export const CLICKHOUSE_PLUGIN_VERSION = '4.20.0';
/** The uid the provisioned datasource gets, so dashboards and alert rules can name it. */
export const DATASOURCE_UID = 'aispm-clickhouse';

export const datasourceRef: common.DataSourceRef = { type: CLICKHOUSE_PLUGIN, uid: DATASOURCE_UID };

/**
 * The operator's datasource: the same SQL endpoint signed in as user `operator`, which
 * reads the pipeline's own tables (pipeline_stats) and no tenant's rows. Pipeline
 * health and its alert rule query it; a tenant's read key cannot see those tables.
 */
export const OPERATOR_DATASOURCE_UID = 'aispm-operator';
export const operatorDatasourceRef: common.DataSourceRef = { type: CLICKHOUSE_PLUGIN, uid: OPERATOR_DATASOURCE_UID };

/** sqlds' FormatQueryOption (grafana/sqlds query.go), the numeric `format` of a query. */
export const Format = { TimeSeries: 0, Table: 1, Logs: 2, Trace: 3, Multi: 4 } as const;
export type Format = (typeof Format)[keyof typeof Format];

/** The plugin's QueryType (src/types/queryBuilder.ts). */
export type QueryType = 'table' | 'logs' | 'timeseries' | 'traces';

/** A column a panel reads and the kind of ClickHouse type it needs. */
export type ColumnKind = 'time' | 'number' | 'string' | 'array';

/** `CHSqlQuery` as the plugin saves it in a dashboard. */
export interface ClickHouseSqlQuery extends cog.Dataquery {
  refId: string;
  datasource: common.DataSourceRef;
  pluginVersion: string;
  editorType: 'sql';
  rawSql: string;
  format: Format;
  queryType: QueryType;
  hide?: boolean;
}

export class ClickHouseQueryBuilder implements cog.Builder<ClickHouseSqlQuery> {
  private readonly query: ClickHouseSqlQuery;
  /** What the panel reads from the result: checked by the tests against the engine's answer. */
  readonly columns: Record<string, ColumnKind>;

  constructor(rawSql: string, columns: Record<string, ColumnKind>) {
    this.columns = columns;
    this.query = {
      refId: 'A',
      datasource: datasourceRef,
      pluginVersion: CLICKHOUSE_PLUGIN_VERSION,
      editorType: 'sql',
      rawSql: rawSql.trim(),
      format: Format.Table,
      queryType: 'table',
      _implementsDataqueryVariant() {},
    };
  }

  refId(refId: string): this {
    this.query.refId = refId;
    return this;
  }

  /** A time series result: `format` 0 and the `timeseries` query type. */
  timeSeries(): this {
    this.query.format = Format.TimeSeries;
    this.query.queryType = 'timeseries';
    return this;
  }

  /** Another datasource than the tenant one (the operator's). */
  datasource(ref: common.DataSourceRef): this {
    this.query.datasource = ref;
    return this;
  }

  table(): this {
    this.query.format = Format.Table;
    this.query.queryType = 'table';
    return this;
  }

  build(): ClickHouseSqlQuery {
    return { ...this.query };
  }
}

/** A SQL query for a panel; `columns` names what the panel reads and the kind of type each must have. */
export const sql = (rawSql: string, columns: Record<string, ColumnKind>): ClickHouseQueryBuilder =>
  new ClickHouseQueryBuilder(rawSql, columns);
