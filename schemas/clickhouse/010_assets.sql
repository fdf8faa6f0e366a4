-- The AI asset inventory: one row per (tenant, kind, name) of every asset an event
-- names, kept by the materialized view below as events are inserted (and filled
-- from the events already stored when this migration runs).
--
-- Kinds: app, agent, model (the requested and the responding model), provider, tool,
-- mcp_server (the host of an MCP server: a tool call whose gen_ai.tool.type is
-- "extension", as the shim and OTel's MCP conventions record it; stdio servers have
-- no host and are not listed), identity (the principal an agent acts as), endpoint
-- (the host a model or embedding call went to) and destination (the host a tool
-- call reached). Users are left out: they are
-- people rather than AI assets, and there are many more of them.
--
-- Idempotent: the events sink is at-least-once, so the same event may be inserted
-- twice. Every column here is unchanged by a replay: first_seen and last_seen are a
-- min and a max, `events` is a distinct count of event ids (uniqCombined64: exact up
-- to a few thousand, then within about 1%; a fixed-size state of a few KiB), and apps
-- and agents are bounded sets of distinct names (the first 16 seen). Rows merge in
-- the background: read with GROUP BY and the -Merge functions:
--   SELECT kind, name, min(first_seen), max(last_seen), uniqCombined64Merge(14)(events),
--          groupUniqArrayMerge(16)(apps), groupUniqArrayArrayMerge(16)(agents)
--   FROM assets WHERE tenant = {tenant:String} GROUP BY kind, name
--
-- Retention: an asset not seen for 180 days is dropped (as findings, which outlive
-- the events that raised them). Rows are dropped as they are, before or after a merge,
-- so an asset seen again later may show a first_seen inside the retention window.
-- Change it with ALTER TABLE assets MODIFY TTL toDateTime(last_seen) + INTERVAL <n> DAY.
CREATE TABLE IF NOT EXISTS assets
(
    tenant      LowCardinality(String),
    kind        LowCardinality(String),
    name        String,
    first_seen  SimpleAggregateFunction(min, DateTime64(6, 'UTC')),
    last_seen   SimpleAggregateFunction(max, DateTime64(6, 'UTC')),
    events      AggregateFunction(uniqCombined64(14), String),
    apps        AggregateFunction(groupUniqArray(16), String),
    agents      AggregateFunction(groupUniqArrayArray(16), Array(String))
)
ENGINE = AggregatingMergeTree
ORDER BY (tenant, kind, name)
TTL toDateTime(last_seen) + INTERVAL 180 DAY;

-- One (kind, name) per asset an event names; empty names are skipped. The agent set
-- leaves out '' (an event without an agent): each event adds [] or [agent].
CREATE MATERIALIZED VIEW IF NOT EXISTS assets_from_events TO assets AS
SELECT
    tenant,
    asset.1 AS kind,
    asset.2 AS name,
    min(time) AS first_seen,
    max(time) AS last_seen,
    uniqCombined64State(14)(event_id) AS events,
    groupUniqArrayState(16)(app) AS apps,
    groupUniqArrayArrayState(16)(if(agent = '', [], [agent])) AS agents
FROM
(
    SELECT
        tenant,
        time,
        event_id,
        app,
        agent,
        arrayJoin(arrayFilter(a -> a.2 != '', [
            ('app', app),
            ('agent', agent),
            ('model', request_model),
            ('model', response_model),
            ('provider', provider),
            ('tool', tool_name),
            ('mcp_server', if(kind = 'tool_call' AND attributes['gen_ai.tool.type'] = 'extension', destination, '')),
            ('identity', identity),
            ('endpoint', if(kind IN ('llm_call', 'embedding'), destination, '')),
            ('destination', if(kind IN ('llm_call', 'embedding'), '', destination))
        ])) AS asset
    FROM events
)
GROUP BY tenant, kind, name;

-- The events stored before this migration (re-running it adds nothing: every column is idempotent).
INSERT INTO assets
SELECT
    tenant,
    asset.1 AS kind,
    asset.2 AS name,
    min(time) AS first_seen,
    max(time) AS last_seen,
    uniqCombined64State(14)(event_id) AS events,
    groupUniqArrayState(16)(app) AS apps,
    groupUniqArrayArrayState(16)(if(agent = '', [], [agent])) AS agents
FROM
(
    SELECT
        tenant,
        time,
        event_id,
        app,
        agent,
        arrayJoin(arrayFilter(a -> a.2 != '', [
            ('app', app),
            ('agent', agent),
            ('model', request_model),
            ('model', response_model),
            ('provider', provider),
            ('tool', tool_name),
            ('mcp_server', if(kind = 'tool_call' AND attributes['gen_ai.tool.type'] = 'extension', destination, '')),
            ('identity', identity),
            ('endpoint', if(kind IN ('llm_call', 'embedding'), destination, '')),
            ('destination', if(kind IN ('llm_call', 'embedding'), '', destination))
        ])) AS asset
    FROM events
)
GROUP BY tenant, kind, name;
