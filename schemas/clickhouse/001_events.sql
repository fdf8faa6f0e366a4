-- One row per AI event (services/core/src/event/types.ts, schemas/avro/ai-event.v1.avsc).
-- Columns are named after the event's fields; the nested `content` record is
-- flattened as content_<field>. Rows come from eventRow() in
-- services/core/src/store/event-row.ts.
--
-- Absent values: a missing label or id is '' (ClickHouse idiom: no null map to
-- store and check, and LowCardinality stays plain). Nullable is kept only where
-- null means something else than empty: token counts (unknown is not 0, and
-- avg() skips NULL) and captured texts (not captured is not captured-and-empty).
--
-- Idempotent sink: the sink is at-least-once, so a replayed event is inserted
-- again with the same event_id and the same sort key, and ReplacingMergeTree
-- keeps one of them when parts merge. Merges happen in the background, so until
-- then both rows exist: readers that count must use FINAL
-- (SELECT count() FROM events FINAL WHERE …) or count distinct ids
-- (uniqExact(event_id)). The version column ingested_at keeps the latest copy.
--
-- Sort key: tenant, app and agent first serve the common filters and keep one
-- agent's events together; time is the span's own start time, so a replay
-- lands on the same key; event_id last makes the key unique per event.
--
-- Retention: 90 days after the event's time (TTL below). Whole daily partitions
-- expire at once (ttl_only_drop_parts). Change it with
-- ALTER TABLE events MODIFY TTL toDate(time) + INTERVAL <n> DAY.
CREATE TABLE IF NOT EXISTS events
(
    event_id                String,
    trace_id                String,
    span_id                 String,
    parent_span_id          String,
    tenant                  LowCardinality(String),
    time                    DateTime64(6, 'UTC'),
    kind                    LowCardinality(String),
    operation               LowCardinality(String),
    app                     LowCardinality(String),
    environment             LowCardinality(String),
    agent                   LowCardinality(String),
    user                    String,
    identity                LowCardinality(String),
    scopes                  Array(String),
    conversation_id         String,
    provider                LowCardinality(String),
    request_model           LowCardinality(String),
    response_model          LowCardinality(String),
    tool_name               LowCardinality(String),
    tool_risk               LowCardinality(String),
    destination             LowCardinality(String),
    input_tokens            Nullable(UInt32),
    output_tokens           Nullable(UInt32),
    latency_ms              Float64,
    status                  LowCardinality(String),
    error_type              LowCardinality(String),
    finish_reasons          Array(String),
    content_policy          LowCardinality(String),
    -- Texts are large and repetitive: ZSTD stores them several times smaller than the default LZ4.
    content_prompt          Nullable(String) CODEC(ZSTD(3)),
    content_completion      Nullable(String) CODEC(ZSTD(3)),
    content_tool_arguments  Nullable(String) CODEC(ZSTD(3)),
    content_tool_result     Nullable(String) CODEC(ZSTD(3)),
    attributes              Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    ingested_at             DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toDate(time)
ORDER BY (tenant, app, agent, time, event_id)
TTL toDate(time) + INTERVAL 90 DAY
SETTINGS ttl_only_drop_parts = 1;
