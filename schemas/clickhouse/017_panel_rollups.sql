-- Rollups for the dashboard panels that grouped raw events and scores over the whole
-- range (issue 22, panel_query_p95_ms): model calls by provider and requested and
-- responding model (Cost, Drift's model version changes), identity use with scopes
-- (Identities), the highest score of scored baselines per minute (Agents' anomaly
-- timeline) and the flagged scores themselves (Agents' top anomalies). Conventions as
-- in 014: -State columns merged with -Merge at read, daily partitions, TTL
-- AISPM_RETENTION_DAYS_ROLLUPS days ({{rollup_retention_days}}), and the deduplication
-- window of 013, so a replayed insert's token reaches these tables through the views.
--
-- Only rows inserted after this migration are rolled up (the views see inserts, not
-- stored rows): on a store that held data before it, the panels read from these
-- tables show nothing earlier than the migration. To fill them from history, run each
-- view's SELECT as INSERT INTO <table> SELECT … once, before new inserts arrive.
--
-- Exactly once: as 014, a row inserted twice by other means than a replay under the
-- same token is counted twice here.

-- Model calls (llm_call, embedding) per minute per tenant, app, agent, provider,
-- requested and responding model: calls, errors, tokens, latency quantiles, and the
-- first and last call.
CREATE TABLE IF NOT EXISTS model_calls_by_minute
(
    tenant          LowCardinality(String),
    minute          DateTime('UTC'),
    app             LowCardinality(String),
    agent           LowCardinality(String),
    kind            LowCardinality(String),
    provider        LowCardinality(String),
    request_model   LowCardinality(String),
    response_model  LowCardinality(String),
    calls           AggregateFunction(count),
    errors          AggregateFunction(sum, UInt64),
    input_tokens    AggregateFunction(sum, UInt64),
    output_tokens   AggregateFunction(sum, UInt64),
    latency_ms      AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), Float64),
    first_call      AggregateFunction(min, DateTime64(6, 'UTC')),
    last_call       AggregateFunction(max, DateTime64(6, 'UTC'))
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(minute)
ORDER BY (tenant, app, agent, kind, provider, request_model, response_model, minute)
TTL toDate(minute) + INTERVAL {{rollup_retention_days}} DAY
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS model_calls_by_minute_mv TO model_calls_by_minute AS
SELECT
    tenant,
    toDateTime(toStartOfMinute(time), 'UTC') AS minute,
    app,
    agent,
    kind,
    provider,
    request_model,
    response_model,
    countState() AS calls,
    sumState(toUInt64(status = 'error')) AS errors,
    sumState(toUInt64(ifNull(input_tokens, 0))) AS input_tokens,
    sumState(toUInt64(ifNull(output_tokens, 0))) AS output_tokens,
    quantilesTDigestState(0.5, 0.95, 0.99)(latency_ms) AS latency_ms,
    minState(time) AS first_call,
    maxState(time) AS last_call
FROM events
WHERE kind IN ('llm_call', 'embedding')
GROUP BY tenant, minute, app, agent, kind, provider, request_model, response_model;

-- Use of each identity (the principal an agent acts as) per minute per tenant, app and
-- agent: events, tool calls, risky tool calls (the risk classes of the Identities
-- dashboard: write, execute, egress, privileged), up to 100 distinct scopes held, and
-- the last use. Events of no identity are left out.
CREATE TABLE IF NOT EXISTS identity_use_by_minute
(
    tenant            LowCardinality(String),
    minute            DateTime('UTC'),
    app               LowCardinality(String),
    agent             LowCardinality(String),
    identity          LowCardinality(String),
    events            AggregateFunction(count),
    tool_calls        AggregateFunction(sum, UInt64),
    risky_tool_calls  AggregateFunction(sum, UInt64),
    scopes            AggregateFunction(groupUniqArrayArray(100), Array(String)),
    last_seen         AggregateFunction(max, DateTime64(6, 'UTC'))
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(minute)
ORDER BY (tenant, app, agent, identity, minute)
TTL toDate(minute) + INTERVAL {{rollup_retention_days}} DAY
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS identity_use_by_minute_mv TO identity_use_by_minute AS
SELECT
    tenant,
    toDateTime(toStartOfMinute(time), 'UTC') AS minute,
    app,
    agent,
    identity,
    countState() AS events,
    sumState(toUInt64(kind = 'tool_call')) AS tool_calls,
    sumState(toUInt64(tool_risk IN ('write', 'execute', 'egress', 'privileged'))) AS risky_tool_calls,
    groupUniqArrayArrayState(100)(scopes) AS scopes,
    maxState(time) AS last_seen
FROM events
WHERE identity != ''
GROUP BY tenant, minute, app, agent, identity;

-- Scores of baselines past learning per minute per tenant, app and agent: how many,
-- how many flagged (0.8 and above, as 014), and the highest. 014's max_score counts
-- learning baselines too, which the anomaly timeline leaves out.
CREATE TABLE IF NOT EXISTS scored_anomalies_by_minute
(
    tenant     LowCardinality(String),
    minute     DateTime('UTC'),
    app        LowCardinality(String),
    agent      String,
    scores     AggregateFunction(count),
    flagged    AggregateFunction(sum, UInt64),
    max_score  AggregateFunction(max, Float32)
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(minute)
ORDER BY (tenant, app, agent, minute)
TTL toDate(minute) + INTERVAL {{rollup_retention_days}} DAY
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS scored_anomalies_by_minute_mv TO scored_anomalies_by_minute AS
SELECT
    tenant,
    toDateTime(toStartOfMinute(time), 'UTC') AS minute,
    app,
    agent,
    countState() AS scores,
    sumState(toUInt64(score >= 0.8)) AS flagged,
    maxState(score) AS max_score
FROM anomaly_scores
WHERE NOT learning
GROUP BY tenant, minute, app, agent;

-- The flagged scores themselves (0.8 and above, not learning), for "top anomalies in a
-- range": a small share of anomaly_scores, so ordering it by score is cheap. Same row
-- identity and version as anomaly_scores (a re-score of the same event replaces its
-- row; one that falls below 0.8 leaves the earlier flagged row here).
CREATE TABLE IF NOT EXISTS flagged_anomalies
(
    tenant       LowCardinality(String),
    event_id     String,
    time         DateTime64(6, 'UTC'),
    entity_type  LowCardinality(String),
    entity       String,
    app          LowCardinality(String),
    agent        String,
    score        Float32,
    reasons      Array(String),
    scored_at    DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(scored_at)
PARTITION BY toDate(time)
ORDER BY (tenant, entity_type, entity, time, event_id)
TTL toDateTime(time) + INTERVAL {{rollup_retention_days}} DAY
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS flagged_anomalies_mv TO flagged_anomalies AS
SELECT tenant, event_id, time, entity_type, entity, app, agent, score, reasons, scored_at
FROM anomaly_scores
WHERE score >= 0.8 AND NOT learning;
