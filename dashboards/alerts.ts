import { CLICKHOUSE_PLUGIN_VERSION, DATASOURCE_UID, Format, OPERATOR_DATASOURCE_UID } from './clickhouse.ts';
import { findingsRows } from './common.ts';

const FINDINGS_ALL = findingsRows('1 = 1');

/**
 * Grafana-managed alert rules in the file-provisioning format
 * (https://grafana.com/docs/grafana/latest/alerting/set-up/provision-alerting-resources/file-provisioning/):
 * each rule runs a ClickHouse query (A), reduces each series to one number (B,
 * `last`), and fires when the threshold (C) holds. Queries return one row per
 * tenant (and app): their string columns become the alert's labels.
 */

export interface AlertQuery {
  rawSql: string;
  /** Seconds before now the query's time range starts. */
  from: number;
}

export interface AlertRule {
  uid: string;
  title: string;
  query: AlertQuery;
  /** Fires when the reduced value is above this. */
  above: number;
  for: string;
  severity: 'critical' | 'high' | 'medium';
  summary: string;
  description: string;
  /** The numeric column the rule reduces (checked by the tests). */
  value: string;
  /** The dashboard the alert links to. */
  dashboard: string;
  /** The datasource queried: the tenant one unless said (the operator's, for the pipeline's tables). */
  datasource?: string;
}

/** Records a stage may leave uncommitted before the pipeline-lag rule fires: a quarter of AISPM_BACKLOG_MAX_EVENTS's default, at which the gateway starts refusing. */
export const PIPELINE_LAG_RECORDS = 50_000;

export const ALERT_FOLDER = 'aispm';
export const ALERT_GROUP = 'aispm';

export const ALERT_RULES: AlertRule[] = [
  {
    uid: 'aispm-posture-drop',
    title: 'Posture score dropped',
    query: {
      rawSql: `SELECT tenant,
  argMaxIf(score, time, time <= now() - INTERVAL 1 HOUR) - argMax(score, time) AS drop
FROM posture
WHERE asset_kind = 'tenant' AND $__timeFilter(time)
GROUP BY tenant`,
      from: 6 * 3600,
    },
    above: 10,
    for: '5m',
    severity: 'high',
    value: 'drop',
    dashboard: 'aispm-posture',
    summary: 'Posture of tenant {{ $labels.tenant }} fell by {{ $values.B.Value }} points in the last hour',
    description:
      'The tenant posture score is more than 10 points below its value an hour ago. See the Posture overview dashboard.',
  },
  {
    uid: 'aispm-critical-finding',
    title: 'Critical finding opened',
    query: {
      rawSql: `SELECT tenant, count() AS critical
FROM ${FINDINGS_ALL}
WHERE severity = 'critical' AND status = 'open' AND $__timeFilter(last_seen)
GROUP BY tenant`,
      from: 600,
    },
    above: 0,
    for: '0s',
    severity: 'critical',
    value: 'critical',
    dashboard: 'aispm-posture',
    summary: '{{ $values.B.Value }} open critical finding(s) for tenant {{ $labels.tenant }}',
    description: 'A finding of critical severity was opened or seen again in the last 10 minutes.',
  },
  {
    uid: 'aispm-anomaly-burst',
    title: 'Anomaly burst',
    query: {
      rawSql: `SELECT tenant, app, countIf(score >= 0.8) AS anomalies
FROM anomaly_scores
WHERE $__timeFilter(time) AND NOT learning
GROUP BY tenant, app`,
      from: 300,
    },
    above: 20,
    for: '2m',
    severity: 'high',
    value: 'anomalies',
    dashboard: 'aispm-agents',
    summary: '{{ $values.B.Value }} anomalous events in 5 minutes in app {{ $labels.app }} ({{ $labels.tenant }})',
    description:
      'More than 20 events scored 0.8 or above in 5 minutes. See the Agent behaviour and anomalies dashboard.',
  },
  {
    uid: 'aispm-pipeline-lag',
    title: 'Pipeline lag',
    // The latest lag each instance wrote for each stage (the consumer group's, whichever instance wrote it): the max.
    query: {
      rawSql: `SELECT stage, toFloat64(max(latest)) AS lag_records
FROM (
  SELECT stage, instance, argMax(lag, time) AS latest
  FROM pipeline_stats
  WHERE partition = -1 AND $__timeFilter(time)
  GROUP BY stage, instance
)
GROUP BY stage`,
      from: 600,
    },
    above: PIPELINE_LAG_RECORDS,
    for: '5m',
    severity: 'high',
    value: 'lag_records',
    dashboard: 'aispm-pipeline',
    datasource: OPERATOR_DATASOURCE_UID,
    summary: 'Stage {{ $labels.stage }} is {{ $values.B.Value }} records behind',
    description: `A processor stage has left more than ${PIPELINE_LAG_RECORDS} records uncommitted for 5 minutes: it is slower than its input or stuck (see its dead letters and batch time). The gateway refuses intake once the events backlog reaches AISPM_BACKLOG_MAX_EVENTS. See the Pipeline health dashboard.`,
  },
];

/**
 * The alert-rules provisioning document (apiVersion 1, one group). Grafana expands
 * environment variables in provisioning files and reads `$$` as a literal `$`, so
 * every `$` of the queries (macros) and annotations (`$labels`) is doubled.
 */
export function alertRulesProvisioning(): Record<string, unknown> {
  return escapeDollars(rulesDocument()) as Record<string, unknown>;
}

/** `$` → `$$` in every string of a document. */
export function escapeDollars(value: unknown): unknown {
  if (typeof value === 'string') return value.replaceAll('$', '$$$$');
  if (Array.isArray(value)) return value.map(escapeDollars);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, escapeDollars(v)]));
  }
  return value;
}

function rulesDocument(): Record<string, unknown> {
  return {
    apiVersion: 1,
    groups: [
      {
        orgId: 1,
        name: ALERT_GROUP,
        folder: ALERT_FOLDER,
        interval: '1m',
        rules: ALERT_RULES.map((r) => ({
          uid: r.uid,
          title: r.title,
          condition: 'C',
          data: [
            {
              refId: 'A',
              relativeTimeRange: { from: r.query.from, to: 0 },
              datasourceUid: r.datasource ?? DATASOURCE_UID,
              model: {
                refId: 'A',
                editorType: 'sql',
                rawSql: r.query.rawSql,
                format: Format.Table,
                queryType: 'table',
                pluginVersion: CLICKHOUSE_PLUGIN_VERSION,
                intervalMs: 60_000,
                maxDataPoints: 43_200,
              },
            },
            {
              refId: 'B',
              relativeTimeRange: { from: 0, to: 0 },
              datasourceUid: '__expr__',
              model: {
                refId: 'B',
                type: 'reduce',
                expression: 'A',
                reducer: 'last',
                settings: { mode: 'dropNN' },
                datasource: { type: '__expr__', uid: '__expr__' },
              },
            },
            {
              refId: 'C',
              relativeTimeRange: { from: 0, to: 0 },
              datasourceUid: '__expr__',
              model: {
                refId: 'C',
                type: 'threshold',
                expression: 'B',
                conditions: [{ evaluator: { type: 'gt', params: [r.above] } }],
                datasource: { type: '__expr__', uid: '__expr__' },
              },
            },
          ],
          noDataState: 'OK',
          execErrState: 'Error',
          for: r.for,
          annotations: {
            summary: r.summary,
            description: r.description,
            __dashboardUid__: r.dashboard,
          },
          labels: { severity: r.severity, source: 'aispm' },
          isPaused: false,
        })),
      },
    ],
  };
}
