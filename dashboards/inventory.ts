import { sql } from './clickhouse.ts';
import { baseDashboard, finish, FINDINGS, type BuiltDashboard } from './common.ts';
import { panel, type PanelQuery } from './panels.ts';
import { TENANT } from './variables.ts';

/** One row per asset seen in the time range, with its approval and owner from the latest posture run. */
const INVENTORY = `(
  SELECT a.tenant AS tenant, a.kind AS kind, a.name AS name, a.fs AS first_seen, a.ls AS last_seen,
    a.events AS events, a.apps AS apps, a.agents AS agents,
    if(p.approval = '', 'unknown', p.approval) AS approval, p.owner AS owner
  FROM (
    SELECT tenant, kind, name,
      CAST(min(first_seen) AS DateTime64(6, 'UTC')) AS fs,
      CAST(max(last_seen) AS DateTime64(6, 'UTC')) AS ls,
      uniqCombined64Merge(14)(events) AS events,
      groupUniqArrayMerge(16)(apps) AS apps,
      groupUniqArrayArrayMerge(16)(agents) AS agents
    FROM assets
    WHERE ${TENANT}
    GROUP BY tenant, kind, name
    HAVING $__timeFilter(ls)
  ) AS a
  LEFT JOIN (
    SELECT tenant, asset_kind AS kind, asset AS name, argMax(approval, time) AS approval, argMax(owner, time) AS owner
    FROM posture
    WHERE asset_kind != 'tenant' AND ${TENANT}
    GROUP BY tenant, asset_kind, asset
  ) AS p ON a.tenant = p.tenant AND a.kind = p.kind AND a.name = p.name
)`;

export function inventoryDashboard(): BuiltDashboard {
  const q: PanelQuery[] = [];
  const uid = 'aispm-inventory';
  const d = baseDashboard(
    uid,
    'aispm · AI inventory and shadow AI',
    'Every AI asset seen (apps, agents, models, providers, tools, MCP servers, identities, endpoints) with approval, and the shadow AI among them.',
    ['inventory', 'shadow-ai'],
  )
    .withPanel(
      panel(
        {
          kind: 'barchart',
          title: 'Assets by kind',
          description: 'AI assets seen in the time range, by kind and approval.',
          w: 12,
          query: sql(
            `SELECT kind, countIf(approval = 'approved') AS approved, countIf(approval != 'approved') AS not_approved
FROM ${INVENTORY}
GROUP BY kind
ORDER BY kind`,
            { kind: 'string', approved: 'number', not_approved: 'number' },
          ),
        },
        q,
      ),
    )
    .withPanel(
      panel(
        {
          kind: 'stat',
          title: 'Unapproved assets',
          description: 'Assets in use that the inventory policy does not approve.',
          w: 6,
          query: sql(`SELECT countIf(approval != 'approved') AS unapproved FROM ${INVENTORY}`, {
            unapproved: 'number',
          }),
        },
        q,
      ),
    )
    .withPanel(
      panel(
        {
          kind: 'stat',
          title: 'Shadow AI findings',
          description: 'Open shadow AI findings: unapproved models, providers or endpoints in use.',
          w: 6,
          query: sql(
            `SELECT count() AS shadow_ai FROM ${FINDINGS}
WHERE type = 'shadow_ai' AND status = 'open' AND $__timeFilter(last_seen)`,
            { shadow_ai: 'number' },
          ),
        },
        q,
      ),
    )
    .withPanel(
      panel(
        {
          kind: 'table',
          title: 'Shadow AI',
          description: 'Assets not approved by the policy, most used first, with the apps and agents that use them.',
          w: 24,
          query: sql(
            `SELECT tenant, kind, name, approval, events, arrayStringConcat(apps, ', ') AS used_by_apps,
  arrayStringConcat(agents, ', ') AS used_by_agents, first_seen, last_seen
FROM ${INVENTORY}
WHERE approval != 'approved' AND kind IN ('model', 'provider', 'endpoint', 'mcp_server', 'destination', 'tool')
ORDER BY events DESC
LIMIT 100`,
            {
              tenant: 'string',
              kind: 'string',
              name: 'string',
              approval: 'string',
              events: 'number',
              used_by_apps: 'string',
              used_by_agents: 'string',
              first_seen: 'time',
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
          title: 'Inventory',
          description: 'Every asset seen in the time range.',
          w: 24,
          h: 12,
          query: sql(
            `SELECT tenant, kind, name, approval, owner, events, arrayStringConcat(apps, ', ') AS apps,
  arrayStringConcat(agents, ', ') AS agents, first_seen, last_seen
FROM ${INVENTORY}
ORDER BY kind, events DESC
LIMIT 1000`,
            {
              tenant: 'string',
              kind: 'string',
              name: 'string',
              approval: 'string',
              owner: 'string',
              events: 'number',
              apps: 'string',
              agents: 'string',
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
