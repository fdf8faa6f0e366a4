-- processor_state, bounded and keyed per stage.
--
-- Key: rows were replaced per `key` alone, but the agents and the entities stage
-- share the table, and an agent's key (tenant/app/agent) can spell a fleet
-- entity's (tenant/kind:name, whose name may hold a "/"): a merge kept only the
-- newer of the two stages' rows. Rows now carry the topic whose consumer saved
-- them, and the table replaces per (key, topic). Every key starts with its tenant
-- and a "/" (tenants hold none: the processor dead-letters events whose tenant
-- does), so the tenant is part of the key. ClickHouse extends a sorting key in
-- place only with a column added by the same ALTER and without a default: rows
-- saved before this migration read topic '' (the processor then tells the stages
-- apart by their log id, which ends with the topic) and age out by the TTL below.
--
-- Retention: a row goes 30 days after it was saved. The processor checkpoints a
-- key with every batch that changes it and forgets keys idle for
-- AISPM_ENTITY_IDLE_DAYS (14 by default, deleting their checkpoint with an empty
-- snapshot), so a live key's newest row is never that old; keep the TTL above the
-- idle period if you raise it. Change it with
-- ALTER TABLE processor_state MODIFY TTL toDateTime(saved_at) + INTERVAL <n> DAY.
ALTER TABLE processor_state
    ADD COLUMN IF NOT EXISTS topic String,
    MODIFY ORDER BY (key, topic);

ALTER TABLE processor_state MODIFY TTL toDateTime(saved_at) + INTERVAL 30 DAY;
