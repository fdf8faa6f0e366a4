import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { sql } from './clickhouse.ts';
import { baseDashboard, finish, type BuiltDashboard } from './common.ts';
import { panel, type PanelQuery } from './panels.ts';
import { AGENT, APP, TENANT } from './variables.ts';

const FILTERS = `$__timeFilter(time) AND ${TENANT} AND ${APP} AND ${AGENT}`;
/** A score at or above this is an anomaly worth a look (the demo's alert score). */
const ANOMALY = '0.8';
/** The same filters on the per-minute rollups (migrations 014 and 017). */
const ROLLUP_FILTERS = `$__timeFilter(minute) AND ${TENANT} AND ${APP} AND ${AGENT}`;
/**
 * The 50 highest flagged scores in range (migration 017's flagged_anomalies: 0.8 and
 * above, not learning). A score carries its event's tenant, app, agent and
 * time, so the events side of the join reads only the granules of those keys.
 */
const TOP = `SELECT time, tenant, app, agent, entity_type, entity, score, reasons, event_id
  FROM flagged_anomalies
  WHERE ${FILTERS}
  ORDER BY score DESC
  LIMIT 50`;
/** This dashboard with the trace variable set to the clicked row's trace (or conversation), same time range and tenants. */
const drillDown = (field: string): string =>
  `/d/aispm-agents?var-trace=\${__data.fields.${field}}&\${__url_time_range}&\${tenant:queryparam}`;

export function agentsDashboard(): BuiltDashboard {
  const q: PanelQuery[] = [];
  const uid = 'aispm-agents';
  const d = baseDashboard(
    uid,
    'aispm · Agent behaviour and anomalies',
    'What agents do (actions, tools, models) and where it departs from their baseline: anomaly timeline and the top anomalies with their explanations.',
    ['agents', 'anomalies'],
  )
    .withVariable(
      new dashboard.TextBoxVariableBuilder('trace')
        .label('Trace or conversation')
        .description(
          'A trace id or conversation id: the drill-down panel lists its events. Click a trace_id in Top anomalies.',
        ),
    )
    .withPanel(
      panel(
        {
          kind: 'timeseries',
          title: 'Agent actions',
          description: 'Events per interval by kind (model calls, tool calls, agent actions, retrievals).',
          w: 12,
          query: sql(
            `SELECT $__timeInterval(minute) AS t, kind, countMerge(events) AS events
FROM events_per_minute
WHERE ${ROLLUP_FILTERS}
GROUP BY t, kind
ORDER BY t`,
            { t: 'time', kind: 'string', events: 'number' },
          ),
        },
        q,
      ),
    )
    .withPanel(
      panel(
        {
          kind: 'timeseries',
          title: 'Anomaly timeline',
          description: `Highest anomaly score per interval and agent (baselines still learning left out); ${ANOMALY} and above is anomalous.`,
          w: 12,
          min: 0,
          max: 1,
          query: sql(
            `SELECT $__timeInterval(minute) AS t, if(agent = '', app, agent) AS who, maxMerge(max_score) AS max_score
FROM scored_anomalies_by_minute
WHERE ${ROLLUP_FILTERS}
GROUP BY t, who
ORDER BY t`,
            { t: 'time', who: 'string', max_score: 'number' },
          ),
        },
        q,
      ),
    )
    .withPanel(
      panel(
        {
          kind: 'timeseries',
          title: 'Anomalies per interval',
          description: `Events scoring ${ANOMALY} or more, per interval.`,
          w: 12,
          query: sql(
            `SELECT $__timeInterval(minute) AS t, sumMerge(flagged) AS anomalies, countMerge(scores) AS scored
FROM scored_anomalies_by_minute
WHERE ${ROLLUP_FILTERS}
GROUP BY t
ORDER BY t`,
            { t: 'time', anomalies: 'number', scored: 'number' },
          ),
        },
        q,
      ),
    )
    .withPanel(
      panel(
        {
          kind: 'table',
          title: 'Tool use by agent',
          description: 'Tool calls per agent and tool, with the tool risk class and error count.',
          w: 12,
          query: sql(
            `SELECT app, agent, tool_name AS tool, tool_risk AS risk, count() AS calls, countIf(status = 'error') AS errors,
  uniqExact(destination) AS destinations
FROM events
WHERE ${FILTERS} AND kind = 'tool_call'
GROUP BY app, agent, tool, risk
ORDER BY calls DESC
LIMIT 200`,
            {
              app: 'string',
              agent: 'string',
              tool: 'string',
              risk: 'string',
              calls: 'number',
              errors: 'number',
              destinations: 'number',
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
          title: 'Top anomalies',
          description: `The highest-scoring anomalies (score ${ANOMALY} and above) with the parts of the score that explain them; follow trace_id or conversation_id to the agent\u2019s actual actions.`,
          w: 24,
          h: 12,
          links: [
            { title: 'Events of this trace', url: drillDown('trace_id') },
            { title: 'Events of this conversation', url: drillDown('conversation_id') },
          ],
          query: sql(
            `SELECT a.time AS time, a.tenant AS tenant, a.app AS app, a.agent AS agent, a.entity_type AS entity_type,
  a.entity AS entity, round(a.score, 3) AS score, arrayStringConcat(a.reasons, '; ') AS reasons,
  e.kind AS kind, e.tool_name AS tool, e.request_model AS model, e.trace_id AS trace_id,
  e.conversation_id AS conversation_id, a.event_id AS event_id
FROM (${TOP}) AS a
LEFT JOIN (
  SELECT tenant, event_id, kind, tool_name, request_model, trace_id, conversation_id
  FROM events
  WHERE ${FILTERS} AND (tenant, app, agent, time) IN (SELECT tenant, app, agent, time FROM (${TOP}))
) AS e ON a.tenant = e.tenant AND a.event_id = e.event_id
ORDER BY score DESC, time DESC`,
            {
              time: 'time',
              tenant: 'string',
              app: 'string',
              agent: 'string',
              entity_type: 'string',
              entity: 'string',
              score: 'number',
              reasons: 'string',
              kind: 'string',
              tool: 'string',
              model: 'string',
              trace_id: 'string',
              conversation_id: 'string',
              event_id: 'string',
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
          title: 'Trace drill-down',
          description:
            'Every event of the trace or conversation in the Trace variable, in order: what the agent actually did.',
          w: 24,
          h: 12,
          mayBeEmpty: 'empty until a trace or conversation id is entered',
          query: sql(
            `SELECT time, trace_id, span_id, parent_span_id, kind, operation, app, agent, identity, tool_name AS tool,
  tool_risk AS risk, destination, request_model AS model, status, round(latency_ms, 1) AS latency_ms,
  input_tokens, output_tokens, length(detections) AS n_detections, attribution
FROM events
WHERE $__timeFilter(time) AND ${TENANT} AND (trace_id = '\${trace}' OR conversation_id = '\${trace}') AND '\${trace}' != ''
ORDER BY time, span_id
LIMIT 1000`,
            {
              time: 'time',
              trace_id: 'string',
              span_id: 'string',
              parent_span_id: 'string',
              kind: 'string',
              operation: 'string',
              app: 'string',
              agent: 'string',
              identity: 'string',
              tool: 'string',
              risk: 'string',
              destination: 'string',
              model: 'string',
              status: 'string',
              latency_ms: 'number',
              input_tokens: 'number',
              output_tokens: 'number',
              n_detections: 'number',
              attribution: 'string',
            },
          ),
        },
        q,
      ),
    );
  return finish(uid, d, q);
}
