import { sql } from './clickhouse.ts';
import { baseDashboard, finish, type BuiltDashboard } from './common.ts';
import { panel, type PanelQuery } from './panels.ts';
import { AGENT, APP, TENANT } from './variables.ts';

/** PSI from which a window is at "act" (AISPM_DRIFT_PSI_ACT's default). */
const ACT = '0.25';

/**
 * Drift reports of the range, one per entity and window (drift_reports is a
 * ReplacingMergeTree: FINAL folds a replayed window), baselines still learning left
 * out. An agent's entity is `tenant/app/agent`: its app and agent are taken from it,
 * so the app and agent variables filter agents' drift; other entities have neither.
 */
const DRIFT = `(
  SELECT tenant, entity, entity_type, window_start, psi, js, features, feature_psi, feature_js,
    if(entity_type = 'agent', splitByChar('/', entity)[2], '') AS app,
    if(entity_type = 'agent', splitByChar('/', entity)[3], '') AS agent
  FROM drift_reports FINAL
  WHERE $__timeFilter(window_start) AND ${TENANT} AND NOT learning
)`;
const FILTERS = `${APP} AND ${AGENT}`;

export function driftDashboard(): BuiltDashboard {
  const q: PanelQuery[] = [];
  const uid = 'aispm-drift';
  const d = baseDashboard(
    uid,
    'aispm · Drift',
    'How far each agent, user, identity, model and tool moved from its baseline, window by window; the features that moved most; models answering in place of the one requested.',
    ['drift', 'models'],
  )
    .withPanel(
      panel(
        {
          kind: 'stat',
          title: 'Entities at act',
          description: `Entities with at least one window at PSI ${ACT} or above in the range.`,
          w: 6,
          query: sql(`SELECT uniqExactIf(entity, psi >= ${ACT}) AS entities_at_act FROM ${DRIFT} WHERE ${FILTERS}`, {
            entities_at_act: 'number',
          }),
        },
        q,
      ),
    )
    .withPanel(
      panel(
        {
          kind: 'timeseries',
          title: 'Drift over time',
          description: 'Largest PSI per interval for each entity (type and key); 0.1 is watch, 0.25 act.',
          w: 18,
          min: 0,
          query: sql(
            `SELECT $__timeInterval(window_start) AS t, concat(entity_type, ' ', entity) AS who, round(max(psi), 3) AS max_psi
FROM ${DRIFT}
WHERE ${FILTERS}
GROUP BY t, who
ORDER BY t`,
            { t: 'time', who: 'string', max_psi: 'number' },
          ),
        },
        q,
      ),
    )
    .withPanel(
      panel(
        {
          kind: 'table',
          title: 'Top drifted features',
          description: 'Features by their largest PSI in any window, with how many windows and entities moved.',
          w: 12,
          query: sql(
            `SELECT feature, entity_type AS type, round(max(fpsi), 3) AS max_psi, round(avg(fpsi), 3) AS mean_psi,
  round(max(fjs), 3) AS max_js, countIf(fpsi >= ${ACT}) AS windows_at_act, uniqExact(entity) AS entities
FROM ${DRIFT}
ARRAY JOIN features AS feature, feature_psi AS fpsi, feature_js AS fjs
WHERE ${FILTERS}
GROUP BY feature, type
ORDER BY max_psi DESC
LIMIT 50`,
            {
              feature: 'string',
              type: 'string',
              max_psi: 'number',
              mean_psi: 'number',
              max_js: 'number',
              windows_at_act: 'number',
              entities: 'number',
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
          title: 'Most drifted windows',
          description: 'The windows furthest from their baseline, with the features that moved most (strongest first).',
          w: 12,
          query: sql(
            `SELECT window_start AS time, tenant, entity_type AS type, entity, round(psi, 3) AS window_psi,
  round(js, 3) AS window_js, arrayStringConcat(arraySlice(features, 1, 3), ', ') AS top_features
FROM ${DRIFT}
WHERE ${FILTERS}
ORDER BY psi DESC, time DESC
LIMIT 50`,
            {
              time: 'time',
              tenant: 'string',
              type: 'string',
              entity: 'string',
              window_psi: 'number',
              window_js: 'number',
              top_features: 'string',
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
          title: 'Model version changes',
          description:
            'Requested models that were answered by more than one model in the range (a provider swapping the model, or a version change), per app and agent: each responding model with its first and last call.',
          w: 24,
          query: sql(
            `SELECT app, agent, request_model AS requested, response_model AS responded, countMerge(calls) AS calls,
  minMerge(first_call) AS first_call, maxMerge(last_call) AS last_call
FROM model_calls_by_minute
WHERE $__timeFilter(minute) AND ${TENANT} AND ${APP} AND ${AGENT} AND kind = 'llm_call' AND response_model != ''
  AND (tenant, app, agent, request_model) IN (
    SELECT tenant, app, agent, request_model FROM model_calls_by_minute
    WHERE $__timeFilter(minute) AND ${TENANT} AND kind = 'llm_call' AND response_model != ''
    GROUP BY tenant, app, agent, request_model
    HAVING uniqExact(response_model) > 1
  )
GROUP BY app, agent, requested, responded
ORDER BY app, agent, requested, first_call
LIMIT 200`,
            {
              app: 'string',
              agent: 'string',
              requested: 'string',
              responded: 'string',
              calls: 'number',
              first_call: 'time',
              last_call: 'time',
            },
          ),
        },
        q,
      ),
    );
  return finish(uid, d, q);
}
