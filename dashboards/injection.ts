import { sql } from './clickhouse.ts';
import { baseDashboard, finish, FINDINGS, type BuiltDashboard } from './common.ts';
import { panel, type PanelQuery } from './panels.ts';
import { AGENT, APP, TENANT } from './variables.ts';

const EVENTS_IN_RANGE = `WHERE $__timeFilter(time) AND ${TENANT} AND ${APP} AND ${AGENT}`;
/** Finding types raised by content detectors (prompt injection, jailbreak, PII, secrets) and leakage detectors. */
const CONTENT_FINDINGS = `('prompt_injection', 'sensitive_data', 'guardrail', 'exfiltration')`;

export function injectionDashboard(): BuiltDashboard {
  const q: PanelQuery[] = [];
  const uid = 'aispm-injection-leakage';
  const d = baseDashboard(
    uid,
    'aispm · Prompt injection and data leakage',
    'Content detections (prompt injection and jailbreak, PII and secrets) on events, and the findings they raised.',
    ['detections', 'owasp-llm01', 'owasp-llm02'],
  )
    .withPanel(
      panel(
        {
          kind: 'timeseries',
          title: 'Detections over time',
          description: 'Content detections per interval, by kind.',
          w: 16,
          query: sql(
            `SELECT $__timeInterval(time) AS t, d.kind AS kind, count() AS hits
FROM events ARRAY JOIN detections AS d
${EVENTS_IN_RANGE}
GROUP BY t, kind
ORDER BY t`,
            { t: 'time', kind: 'string', hits: 'number' },
          ),
        },
        q,
      ),
    )
    .withPanel(
      panel(
        {
          kind: 'piechart',
          title: 'Detections by channel',
          description: 'Where the detected text was: prompt, completion, tool arguments or tool result.',
          w: 8,
          query: sql(
            `SELECT d.channel AS channel, count() AS hits
FROM events ARRAY JOIN detections AS d
${EVENTS_IN_RANGE}
GROUP BY channel
ORDER BY hits DESC`,
            { channel: 'string', hits: 'number' },
          ),
        },
        q,
      ),
    )
    .withPanel(
      panel(
        {
          kind: 'table',
          title: 'Detections by rule',
          description: 'Which detector rules fired, how often, how strongly, and in which apps.',
          w: 24,
          query: sql(
            `SELECT d.detector AS detector, d.rule AS rule, d.kind AS kind, count() AS hits,
  round(max(d.score), 3) AS max_score, uniqExact(app) AS apps, uniqExact(agent) AS agents, max(time) AS last_seen
FROM events ARRAY JOIN detections AS d
${EVENTS_IN_RANGE}
GROUP BY detector, rule, kind
ORDER BY hits DESC
LIMIT 100`,
            {
              detector: 'string',
              rule: 'string',
              kind: 'string',
              hits: 'number',
              max_score: 'number',
              apps: 'number',
              agents: 'number',
              last_seen: 'time',
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
          title: 'Recent detections',
          description: 'The latest detections with their redacted excerpt and the trace to follow.',
          w: 24,
          h: 10,
          query: sql(
            `SELECT time, tenant, app, agent, trace_id, d.detector AS detector, d.rule AS rule, d.severity AS severity,
  round(d.score, 3) AS score, d.channel AS channel, d.excerpt AS excerpt
FROM events ARRAY JOIN detections AS d
${EVENTS_IN_RANGE}
ORDER BY time DESC
LIMIT 200`,
            {
              time: 'time',
              tenant: 'string',
              app: 'string',
              agent: 'string',
              trace_id: 'string',
              detector: 'string',
              rule: 'string',
              severity: 'string',
              score: 'number',
              channel: 'string',
              excerpt: 'string',
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
          title: 'Injection and leakage findings',
          description: 'Findings raised by content and exfiltration detectors, worst first.',
          w: 24,
          h: 10,
          query: sql(
            `SELECT tenant, type, severity, title, asset, status, occurrences,
  arrayStringConcat(owasp_llm, ', ') AS owasp_llm, arrayStringConcat(mitre_atlas, ', ') AS mitre_atlas,
  first_seen, last_seen
FROM ${FINDINGS}
WHERE type IN ${CONTENT_FINDINGS} AND $__timeFilter(last_seen)
ORDER BY severity_rank DESC, last_seen DESC
LIMIT 200`,
            {
              tenant: 'string',
              type: 'string',
              severity: 'string',
              title: 'string',
              asset: 'string',
              status: 'string',
              occurrences: 'number',
              owasp_llm: 'string',
              mitre_atlas: 'string',
              first_seen: 'time',
              last_seen: 'time',
            },
          ),
        },
        q,
      ),
    );
  return finish(uid, d, q);
}
