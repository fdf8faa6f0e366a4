-- The processor's cuts in embedded mode (issue 22; distributed mode keeps them on the
-- stage's compacted changelog topic): per stage topic and partition, the offsets of the
-- first and last record of its latest batches, each recorded before the batch's first
-- insert (services/processor/src/state/cuts.ts). After a restart the processor cuts the
-- replayed records at them, so each replayed batch carries the rows and deduplication
-- tokens of its first run: the engine drops what was written and writes what was not,
-- materialized views included.
--
-- Not tenant data: a partition holds many tenants' events and a cut names none (no
-- tenant column; the SQL endpoint shows it to no tenant). `cuts` is the JSON the
-- processor wrote; `log` the events log the offsets belong to. ReplacingMergeTree keeps
-- the newest row per (topic, partition) once parts merge; readers take argMax(…, saved_at).
-- A row goes 30 days after it was saved; a live partition's is replaced with every batch.
CREATE TABLE IF NOT EXISTS processor_cuts
(
    topic     String,
    partition UInt32,
    log       String,
    cuts      String,
    saved_at  DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(saved_at)
ORDER BY (topic, partition)
TTL toDateTime(saved_at) + INTERVAL 30 DAY;
