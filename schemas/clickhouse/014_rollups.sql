-- Per-minute rollups for dashboards and long-range queries, kept by materialized views
-- as rows are inserted: events, anomaly scores and findings per minute. Each column is
-- an aggregate state (-State), so parts merge exactly whatever their number and order.
-- Rows merge in the background: read with GROUP BY and the -Merge functions, e.g.
--   SELECT minute, countMerge(events), sumMerge(errors), sumMerge(input_tokens),
--          quantilesTDigestMerge(0.5, 0.9, 0.99)(latency_ms)
--   FROM events_per_minute WHERE tenant = {tenant:String} AND minute >= {from:DateTime}
--   GROUP BY minute ORDER BY minute
--
-- Exactly once: the views count every row inserted into their source, so they rely on
-- the processor's inserts being exactly-once (migration 013: deduplication tokens,
-- which reach these tables through the views, and the probe of stored rows after a
-- restore). A row inserted twice by other means is counted twice here, while the
-- ReplacingMergeTree source keeps one.
--
-- Only rows inserted after this migration are rolled up (the views see inserts, not
-- stored rows).
--
-- Retention: AISPM_RETENTION_DAYS_ROLLUPS days after the minute (400 by default),
-- substituted by `aispm migrate` when the tables are created; whole daily partitions
-- expire at once. Change it later with
-- ALTER TABLE <table> MODIFY TTL toDate(minute) + INTERVAL <n> DAY.

-- Events per minute per tenant, app, agent and model (the responding model, else the
-- requested one; '' for events of no model, such as tool calls), with the event kind.
CREATE TABLE IF NOT EXISTS events_per_minute
(
    tenant         LowCardinality(String),
    minute         DateTime('UTC'),
    app            LowCardinality(String),
    agent          LowCardinality(String),
    model          LowCardinality(String),
    kind           LowCardinality(String),
    events         AggregateFunction(count),
    errors         AggregateFunction(sum, UInt64),
    input_tokens   AggregateFunction(sum, UInt64),
    output_tokens  AggregateFunction(sum, UInt64),
    latency_ms     AggregateFunction(quantilesTDigest(0.5, 0.9, 0.99), Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(minute)
ORDER BY (tenant, app, agent, model, kind, minute)
TTL toDate(minute) + INTERVAL {{rollup_retention_days}} DAY
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_per_minute_mv TO events_per_minute AS
SELECT
    tenant,
    toDateTime(toStartOfMinute(time), 'UTC') AS minute,
    app,
    agent,
    if(response_model != '', response_model, request_model) AS model,
    kind,
    countState() AS events,
    sumState(toUInt64(status = 'error')) AS errors,
    sumState(toUInt64(ifNull(input_tokens, 0))) AS input_tokens,
    sumState(toUInt64(ifNull(output_tokens, 0))) AS output_tokens,
    quantilesTDigestState(0.5, 0.9, 0.99)(latency_ms) AS latency_ms
FROM events
GROUP BY tenant, minute, app, agent, model, kind;

-- Anomaly scores per minute per tenant, app, agent and scored entity type: how many,
-- how many flagged (score at or above 0.8, the default AISPM_FINDING_THRESHOLD, not
-- learning), and the highest.
CREATE TABLE IF NOT EXISTS anomaly_scores_per_minute
(
    tenant       LowCardinality(String),
    minute       DateTime('UTC'),
    app          LowCardinality(String),
    agent        String,
    entity_type  LowCardinality(String),
    scores       AggregateFunction(count),
    flagged      AggregateFunction(sum, UInt64),
    learning_scores AggregateFunction(sum, UInt64),
    max_score    AggregateFunction(max, Float32)
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(minute)
ORDER BY (tenant, app, agent, entity_type, minute)
TTL toDate(minute) + INTERVAL {{rollup_retention_days}} DAY
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS anomaly_scores_per_minute_mv TO anomaly_scores_per_minute AS
SELECT
    tenant,
    toDateTime(toStartOfMinute(time), 'UTC') AS minute,
    app,
    agent,
    entity_type,
    countState() AS scores,
    sumState(toUInt64(score >= 0.8 AND NOT learning)) AS flagged,
    sumState(toUInt64(learning)) AS learning_scores,
    maxState(score) AS max_score
FROM anomaly_scores
GROUP BY tenant, minute, app, agent, entity_type;

-- Finding records per minute (of their last_seen) per tenant, type, severity and
-- status: the records written (one per finding per batch that raised or resolved it),
-- the occurrences they carry, and the distinct findings (exact).
CREATE TABLE IF NOT EXISTS findings_per_minute
(
    tenant       LowCardinality(String),
    minute       DateTime('UTC'),
    type         LowCardinality(String),
    severity     LowCardinality(String),
    status       LowCardinality(String),
    records      AggregateFunction(count),
    occurrences  AggregateFunction(sum, UInt64),
    findings     AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(minute)
ORDER BY (tenant, type, severity, status, minute)
TTL toDate(minute) + INTERVAL {{rollup_retention_days}} DAY
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS findings_per_minute_mv TO findings_per_minute AS
SELECT
    tenant,
    toDateTime(toStartOfMinute(last_seen), 'UTC') AS minute,
    type,
    toString(severity) AS severity,
    status,
    countState() AS records,
    sumState(toUInt64(occurrences)) AS occurrences,
    uniqExactState(id) AS findings
FROM findings
GROUP BY tenant, minute, type, severity, status;
