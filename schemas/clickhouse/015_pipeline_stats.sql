-- Pipeline health (issue 22): what the processor's stages did, written by the processor
-- itself every AISPM_STATS_INTERVAL_S (services/processor/src/stats), so a one-machine
-- install can chart lag, throughput and losses without Prometheus. The same figures are
-- on the processor's /metrics as running totals.
--
-- Not tenant data: the stages serve every tenant at once, so the table has no tenant
-- column and carries no tenant name. Tenant read keys of the SQL endpoint do not see it;
-- an operator key does.
--
-- One row per interval, process (instance: host and pid), stage and partition of the
-- stage's topic it handled in the interval; counts are for the interval, not running
-- totals:
--   records_in     records taken off the stage's topic (batches handled)
--   records_out    what the stage passed on: traces: events sent to the attributed
--                  topic; agents and entities: events stored and scored; genai-logs and
--                  genai-metrics: rows stored
--   published      records the stage published (its output topics, findings, scores),
--                  dead letters left out
--   dead_letters   records sent to the dead-letter topic
--   drops          records let go with neither an output nor a dead letter (GenAI
--                  records that are no known Avro record)
--   batches, batch_ms_sum, batch_ms_max: batches handled and their time in the handler
--                  (mean latency: batch_ms_sum / batches)
--   own, inherited, unattributed: events sent on by trace assembly, by how their agent
--                  was found (their own span, an ancestor's, none)
--   merged         second reports of a model call merged into the first
-- A stage's counts it keeps per process, not per partition (attribution, merges,
-- drops), are credited to the batch during whose handling they changed.
--
-- lag: records on the stage's topic its consumer group has not committed. The row of
-- partition -1 (the stage as a whole, one per interval and instance) has the topic's,
-- as the bus reports it. Partition rows have their partition's where the bus tells it
-- (Kafka: from the brokers, and then a row for every partition, idle ones included),
-- else NULL (the embedded bus tells a topic's total only). It is the group's lag
-- whichever instance reports it: take the max over instances, not the sum.
--
-- Inserted with a deduplication token (instance, interval start): a retried insert is
-- dropped rather than counted twice. Kept 30 days; whole daily partitions expire at
-- once. Change it with ALTER TABLE pipeline_stats MODIFY TTL toDate(time) + INTERVAL <n> DAY.
CREATE TABLE IF NOT EXISTS pipeline_stats
(
    time          DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    interval_s    Float32,
    instance      LowCardinality(String),
    stage         LowCardinality(String),
    topic         LowCardinality(String),
    partition     Int32,
    lag           Nullable(UInt64),
    records_in    UInt64 CODEC(T64, ZSTD(1)),
    records_out   UInt64 CODEC(T64, ZSTD(1)),
    published     UInt64 CODEC(T64, ZSTD(1)),
    dead_letters  UInt64 CODEC(T64, ZSTD(1)),
    drops         UInt64 CODEC(T64, ZSTD(1)),
    batches       UInt32 CODEC(T64, ZSTD(1)),
    batch_ms_sum  Float64,
    batch_ms_max  Float32,
    own           UInt64 CODEC(T64, ZSTD(1)),
    inherited     UInt64 CODEC(T64, ZSTD(1)),
    unattributed  UInt64 CODEC(T64, ZSTD(1)),
    merged        UInt64 CODEC(T64, ZSTD(1))
)
ENGINE = MergeTree
PARTITION BY toDate(time)
ORDER BY (stage, partition, instance, time)
TTL toDate(time) + INTERVAL 30 DAY
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000;
