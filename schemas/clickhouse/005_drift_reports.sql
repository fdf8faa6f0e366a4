-- One drift report per entity per closed window: the largest PSI and
-- Jensen–Shannon divergence of the window's distributions against the baseline,
-- and the features that moved most (parallel arrays, strongest first). A replayed
-- window lands on the same key (tenant, entity, window_start) and
-- ReplacingMergeTree keeps one; count with FINAL. Kept 90 days.
CREATE TABLE IF NOT EXISTS drift_reports
(
    tenant       LowCardinality(String),
    entity       String,
    entity_type  LowCardinality(String),
    window_start DateTime64(6, 'UTC'),
    window_end   DateTime64(6, 'UTC'),
    psi          Float64,
    js           Float64,
    features     Array(LowCardinality(String)),
    feature_psi  Array(Float64),
    feature_js   Array(Float64),
    learning     Bool,
    reported_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(reported_at)
PARTITION BY toDate(window_start)
ORDER BY (tenant, entity_type, entity, window_start)
TTL toDateTime(window_start) + INTERVAL 90 DAY;
