-- Findings (DESIGN.md, Finding contract; schemas/avro/finding.v1.avsc). Each insert
-- is one occurrence record of a finding; records with the same id are the same
-- finding and merge in the background: first_seen keeps the minimum, last_seen the
-- maximum, occurrences the sum, severity and score the highest, the rest the newest
-- (anyLast, so a later status 'resolved' wins). Until parts merge, read with
-- GROUP BY id and the same functions, or FINAL:
--   SELECT id, min(first_seen), max(last_seen), sum(occurrences), max(severity), anyLast(status)
--   FROM findings WHERE tenant = {tenant:String} GROUP BY id
-- Evidence is redacted before it gets here. Kept 180 days after last seen.
CREATE TABLE IF NOT EXISTS findings
(
    tenant      LowCardinality(String),
    id          String,
    asset       SimpleAggregateFunction(anyLast, String),
    asset_type  SimpleAggregateFunction(anyLast, LowCardinality(String)),
    type        LowCardinality(String),
    rule        SimpleAggregateFunction(anyLast, LowCardinality(String)),
    severity    SimpleAggregateFunction(max, Enum8('info' = 0, 'low' = 1, 'medium' = 2, 'high' = 3, 'critical' = 4)),
    score       SimpleAggregateFunction(max, Float64),
    title       SimpleAggregateFunction(anyLast, String),
    evidence    SimpleAggregateFunction(anyLast, Array(String)),
    event_ids   SimpleAggregateFunction(anyLast, Array(String)),
    first_seen  SimpleAggregateFunction(min, DateTime64(6, 'UTC')),
    last_seen   SimpleAggregateFunction(max, DateTime64(6, 'UTC')),
    occurrences SimpleAggregateFunction(sum, UInt64),
    status      SimpleAggregateFunction(anyLast, LowCardinality(String)),
    owasp_llm   SimpleAggregateFunction(anyLast, Array(String)),
    mitre_atlas SimpleAggregateFunction(anyLast, Array(String)),
    model       SimpleAggregateFunction(anyLast, LowCardinality(String))
)
ENGINE = AggregatingMergeTree
ORDER BY (tenant, type, id)
TTL toDateTime(last_seen) + INTERVAL 180 DAY;
