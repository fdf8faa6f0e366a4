-- Exactly-once into the store (issue 22). The processor gives every insert a
-- deduplication token (insert_deduplication_token) made from where its rows came
-- from (stage, topic, partition, offset range) and a digest of the rows; a replayed
-- batch (restart, rebalance, a retry after a failed insert) carries the same token
-- and the engine drops it, together with the rows it would have sent through the
-- table's materialized views (deduplicate_blocks_in_dependent_materialized_views).
--
-- A non-replicated MergeTree remembers no insert unless its window says how many:
-- the hashes of the last 10000 inserted blocks (one per partition an insert touches)
-- are kept per table, in the table's folder. A replay older than that is not caught
-- by the token; the processor's probe of stored rows (Stage.fresh) still keeps events
-- and scores single. An insert without a token is never dropped (the stores turn
-- deduplication off for it), however alike two inserts are.
ALTER TABLE events MODIFY SETTING non_replicated_deduplication_window = 10000;

ALTER TABLE anomaly_scores MODIFY SETTING non_replicated_deduplication_window = 10000;

ALTER TABLE findings MODIFY SETTING non_replicated_deduplication_window = 10000;

ALTER TABLE drift_reports MODIFY SETTING non_replicated_deduplication_window = 10000;

ALTER TABLE genai_log_events MODIFY SETTING non_replicated_deduplication_window = 10000;

ALTER TABLE genai_metrics MODIFY SETTING non_replicated_deduplication_window = 10000;

-- Written by the materialized view on events: its blocks are deduplicated by tokens derived from the events insert's.
ALTER TABLE assets MODIFY SETTING non_replicated_deduplication_window = 10000;
