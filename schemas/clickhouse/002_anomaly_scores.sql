-- One anomaly score per scored event. ReplacingMergeTree on the event id keeps a
-- replayed batch from counting twice; read with FINAL (or argMax) for exact figures.
-- Kept 90 days, like the events they explain.
CREATE TABLE IF NOT EXISTS anomaly_scores
(
    tenant      LowCardinality(String),
    event_id    String,
    time        DateTime64(6, 'UTC'),
    entity_type LowCardinality(String),
    entity      String,
    app         LowCardinality(String),
    agent       String DEFAULT '',
    score       Float32,
    learning    Bool,
    features    Array(LowCardinality(String)),
    reasons     Array(String),
    model       LowCardinality(String),
    scored_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(scored_at)
PARTITION BY toDate(time)
ORDER BY (tenant, entity_type, entity, time, event_id)
TTL toDateTime(time) + INTERVAL 90 DAY;
