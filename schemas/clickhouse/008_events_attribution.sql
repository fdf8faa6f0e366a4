-- How trace assembly attributed each event's agent (schemas/avro/ai-event.v2.avsc):
-- 'own' (the span names its agent), 'inherited' (from its nearest agent ancestor in
-- the trace), 'none' (no agent ancestor, or none within the wait). '' for rows
-- stored before trace assembly existed.
ALTER TABLE events ADD COLUMN IF NOT EXISTS attribution LowCardinality(String) DEFAULT '' AFTER attributes;
