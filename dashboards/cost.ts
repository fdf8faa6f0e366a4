import { sql } from './clickhouse.ts';
import { baseDashboard, finish, type BuiltDashboard } from './common.ts';
import { panel, type PanelQuery } from './panels.ts';
import { AGENT, APP, TENANT } from './variables.ts';

/** Both panels read per-minute rollups (migrations 014 and 017); the model-call rollup holds only llm_call and embedding rows. */
const ROLLUP_FILTERS = `$__timeFilter(minute) AND ${TENANT} AND ${APP} AND ${AGENT}`;

export function costDashboard(): BuiltDashboard {
  const q: PanelQuery[] = [];
  const uid = 'aispm-cost';
  const d = baseDashboard(
    uid,
    'aispm · Cost',
    'Token use by app and model: where the spend goes, and denial-of-wallet at a glance.',
    ['cost', 'tokens'],
  )
    .withPanel(
      panel(
        {
          kind: 'timeseries',
          title: 'Tokens by app',
          description: 'Input plus output tokens per interval, by app.',
          w: 12,
          query: sql(
            `SELECT $__timeInterval(minute) AS t, app, sumMerge(input_tokens) + sumMerge(output_tokens) AS tokens
FROM events_per_minute
WHERE ${ROLLUP_FILTERS} AND kind IN ('llm_call', 'embedding')
GROUP BY t, app
ORDER BY t`,
            { t: 'time', app: 'string', tokens: 'number' },
          ),
        },
        q,
      ),
    )
    .withPanel(
      panel(
        {
          kind: 'table',
          title: 'Tokens by app and model',
          description: 'Calls, input and output tokens and latency (p95, t-digest) per app and model.',
          w: 12,
          query: sql(
            `SELECT app, provider, if(response_model = '', request_model, response_model) AS model, countMerge(calls) AS calls,
  sumMerge(input_tokens) AS input_tokens, sumMerge(output_tokens) AS output_tokens,
  round(quantilesTDigestMerge(0.5, 0.95, 0.99)(latency_ms)[2], 1) AS p95_latency_ms
FROM model_calls_by_minute
WHERE ${ROLLUP_FILTERS}
GROUP BY app, provider, model
ORDER BY input_tokens + output_tokens DESC
LIMIT 200`,
            {
              app: 'string',
              provider: 'string',
              model: 'string',
              calls: 'number',
              input_tokens: 'number',
              output_tokens: 'number',
              p95_latency_ms: 'number',
            },
          ),
        },
        q,
      ),
    );
  return finish(uid, d, q);
}
