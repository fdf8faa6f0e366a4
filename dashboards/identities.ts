import { sql } from './clickhouse.ts';
import { baseDashboard, finish, FINDINGS, type BuiltDashboard } from './common.ts';
import { panel, type PanelQuery } from './panels.ts';
import { AGENT, APP, TENANT } from './variables.ts';

const FILTERS = `$__timeFilter(time) AND ${TENANT} AND ${APP} AND ${AGENT}`;
/** Tool risk classes that change something or leave the organisation (the processor's tool_risk values; migration 017's identity rollup counts the same). */
const RISKY = `('write', 'execute', 'egress', 'privileged')`;
/** Finding types of the agency detectors (OWASP LLM06 excessive agency, toxic combinations of tools). */
const AGENCY_FINDINGS = `('excessive_agency', 'toxic_combination')`;

export function identitiesDashboard(): BuiltDashboard {
  const q: PanelQuery[] = [];
  const uid = 'aispm-identities';
  const d = baseDashboard(
    uid,
    'aispm · Identities, permissions and toxic combinations',
    'The principals agents act as, the scopes they hold and use, risky tool use, and the excessive-agency and toxic-combination findings.',
    ['identities', 'agency', 'owasp-llm06'],
  )
    .withPanel(
      panel(
        {
          kind: 'table',
          title: 'Identities in use',
          description:
            'Each identity (the principal an agent acts as): who uses it, its scopes, and how much of its use is risky.',
          w: 24,
          h: 10,
          query: sql(
            `SELECT tenant, identity, arrayStringConcat(groupUniqArray(agent), ', ') AS agents,
  arrayStringConcat(arraySort(groupUniqArrayArrayMerge(100)(scopes)), ', ') AS scopes,
  countMerge(events) AS events, sumMerge(tool_calls) AS tool_calls,
  sumMerge(risky_tool_calls) AS risky_tool_calls, maxMerge(last_seen) AS last_seen
FROM identity_use_by_minute
WHERE $__timeFilter(minute) AND ${TENANT} AND ${APP} AND ${AGENT}
GROUP BY tenant, identity
ORDER BY risky_tool_calls DESC, events DESC
LIMIT 200`,
            {
              tenant: 'string',
              identity: 'string',
              agents: 'string',
              scopes: 'string',
              events: 'number',
              tool_calls: 'number',
              risky_tool_calls: 'number',
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
          kind: 'timeseries',
          title: 'Tool calls by risk class',
          description: 'Tool calls per interval by risk class (read, write, execute, egress, privileged).',
          w: 12,
          query: sql(
            `SELECT $__timeInterval(time) AS t, if(tool_risk = '', 'unclassified', tool_risk) AS risk, count() AS calls
FROM events
WHERE ${FILTERS} AND kind = 'tool_call'
GROUP BY t, risk
ORDER BY t`,
            { t: 'time', risk: 'string', calls: 'number' },
          ),
        },
        q,
      ),
    )
    .withPanel(
      panel(
        {
          kind: 'table',
          title: 'Risky tools by agent',
          description:
            'Agents and the write, execute, egress and privileged tools they called, with the identity they acted as.',
          w: 12,
          query: sql(
            `SELECT agent, identity, tool_name AS tool, tool_risk AS risk, count() AS calls,
  arrayStringConcat(groupUniqArray(10)(destination), ', ') AS destinations
FROM events
WHERE ${FILTERS} AND kind = 'tool_call' AND tool_risk IN ${RISKY}
GROUP BY agent, identity, tool, risk
ORDER BY calls DESC
LIMIT 200`,
            {
              agent: 'string',
              identity: 'string',
              tool: 'string',
              risk: 'string',
              calls: 'number',
              destinations: 'string',
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
          title: 'Excessive agency and toxic combinations',
          description: 'Findings of the agency detectors, worst first, with their OWASP Agentic references.',
          w: 24,
          h: 10,
          query: sql(
            `SELECT tenant, type, severity, title, asset, status, occurrences,
  arrayStringConcat(owasp_agentic, ', ') AS owasp_agentic, arrayStringConcat(owasp_llm, ', ') AS owasp_llm,
  first_seen, last_seen
FROM ${FINDINGS}
WHERE type IN ${AGENCY_FINDINGS} AND $__timeFilter(last_seen)
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
              owasp_agentic: 'string',
              owasp_llm: 'string',
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
