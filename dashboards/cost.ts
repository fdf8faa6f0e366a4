import { sql } from './clickhouse.ts';
import { baseDashboard, finish, type BuiltDashboard } from './common.ts';
import { panel, type PanelQuery } from './panels.ts';
import { AGENT, APP, TENANT } from './variables.ts';

const FILTERS = `$__timeFilter(time) AND ${TENANT} AND ${APP} AND ${AGENT} AND kind IN ('llm_call', 'embedding')`;

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
            `SELECT $__timeInterval(time) AS t, app, sum(ifNull(input_tokens, 0) + ifNull(output_tokens, 0)) AS tokens
FROM events
WHERE ${FILTERS}
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
          description: 'Calls, input and output tokens and latency per app and model.',
          w: 12,
          query: sql(
            `SELECT app, provider, if(response_model = '', request_model, response_model) AS model, count() AS calls,
  sum(ifNull(input_tokens, 0)) AS input_tokens, sum(ifNull(output_tokens, 0)) AS output_tokens,
  round(quantile(0.95)(latency_ms), 1) AS p95_latency_ms
FROM events
WHERE ${FILTERS}
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
