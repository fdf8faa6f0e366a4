-- Processor state in embedded mode (distributed mode uses the compacted changelog
-- topic aispm.state.v1 instead): the newest checkpoint of each partition key.
-- A row reflects every event of `key` up to `offset` on `partition` of the events
-- log `log` (services/processor/src/state/checkpoint.ts). ReplacingMergeTree keeps
-- the newest row per key once parts merge; readers take argMax(…, saved_at), so
-- older rows waiting for a merge never win. The snapshot is base64 of the
-- scorer's bytes (opaque here). No TTL: an entity's baseline outlives its events.
CREATE TABLE IF NOT EXISTS processor_state
(
    key       String,
    partition UInt32,
    log       String,
    offset    String,
    snapshot  String CODEC(ZSTD(3)),
    saved_at  DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(saved_at)
ORDER BY key;
