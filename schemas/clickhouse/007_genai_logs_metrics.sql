-- GenAI log events and GenAI metric points, from the gateway's /v1/logs and /v1/metrics
-- (schemas/avro/genai-log-event.v1.avsc, genai-metric-point.v1.avsc), written by the
-- processor's GenAI sink (services/processor/src/genai-sink.ts).
--
-- Idempotent: the sink is at-least-once and a sender may resend a request, so a replayed
-- row is identical to the first (same key, same values: log_id and point_id are computed
-- from the record) and ReplacingMergeTree keeps one of them when parts merge. Until then
-- both exist: readers that count use FINAL (or uniqExact(log_id) / uniqExact(point_id)).
--
-- Retention: 90 days after the record's time, as events.

-- Content travels under the capture policy: `content` is null (none), an HMAC (hash), the
-- redacted text (redacted, the default) or the text (full); `detected` lists the kinds of
-- PII and secrets found in the raw text whatever the policy kept.
-- Sort key: tenant first, then (trace_id, span_id), the join to the span's event.
CREATE TABLE IF NOT EXISTS genai_log_events
(
    tenant          LowCardinality(String),
    trace_id        String,
    span_id         String,
    time            DateTime64(6, 'UTC'),
    log_id          String,
    app             LowCardinality(String),
    event_name      LowCardinality(String),
    role            LowCardinality(String),
    content_policy  LowCardinality(String),
    content         Nullable(String) CODEC(ZSTD(3)),
    detected        Array(LowCardinality(String)),
    ingested_at     DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toDate(time)
ORDER BY (tenant, trace_id, span_id, time, log_id)
TTL toDate(time) + INTERVAL 90 DAY
SETTINGS ttl_only_drop_parts = 1;

-- One row per histogram data point. bounds has n entries, bucket_counts n + 1 (OTLP).
-- Cumulative points repeat what came before: take the latest point per series for totals.
CREATE TABLE IF NOT EXISTS genai_metrics
(
    tenant          LowCardinality(String),
    metric          LowCardinality(String),
    time            DateTime64(6, 'UTC'),
    start_time      DateTime64(6, 'UTC'),
    point_id        String,
    unit            LowCardinality(String),
    temporality     LowCardinality(String),
    app             LowCardinality(String),
    operation       LowCardinality(String),
    provider        LowCardinality(String),
    request_model   LowCardinality(String),
    response_model  LowCardinality(String),
    token_type      LowCardinality(String),
    error_type      LowCardinality(String),
    attributes      Map(LowCardinality(String), String),
    count           UInt64,
    sum             Nullable(Float64),
    min             Nullable(Float64),
    max             Nullable(Float64),
    bounds          Array(Float64),
    bucket_counts   Array(UInt64),
    ingested_at     DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toDate(time)
ORDER BY (tenant, metric, app, time, point_id)
TTL toDate(time) + INTERVAL 90 DAY
SETTINGS ttl_only_drop_parts = 1;

-- Each GenAI log event with its span's event (kind, agent, models, ...), joined on
-- (tenant, trace_id, span_id) at query time, so it does not matter whether the log or the
-- span arrived first. Log events whose span has not arrived (or never does) are kept, the
-- event's columns empty (event_id = ''). FINAL on both sides: one row per event and log.
CREATE VIEW IF NOT EXISTS events_with_content AS
SELECT
    l.tenant AS tenant,
    l.trace_id AS trace_id,
    l.span_id AS span_id,
    e.event_id AS event_id,
    e.time AS event_time,
    e.kind AS kind,
    e.app AS app,
    e.agent AS agent,
    e.provider AS provider,
    e.request_model AS request_model,
    e.response_model AS response_model,
    l.time AS log_time,
    l.log_id AS log_id,
    l.event_name AS event_name,
    l.role AS role,
    l.content_policy AS content_policy,
    l.content AS content,
    l.detected AS detected
FROM genai_log_events AS l FINAL
LEFT JOIN (SELECT * FROM events FINAL) AS e
    ON e.tenant = l.tenant AND e.trace_id = l.trace_id AND e.span_id = l.span_id;
