-- Verdicts of the content detectors (prompt injection, PII and secrets, guardrails)
-- on the span's texts, made where the text entered aispm, before the capture policy
-- (schemas/avro/ai-event.v3.avsc, field detections). Excerpts are redacted. Empty
-- for rows stored before detections existed. Query with ARRAY JOIN detections AS d,
-- or arrayExists(d -> d.detector = 'injection', detections).
ALTER TABLE events ADD COLUMN IF NOT EXISTS detections Array(Tuple(
    detector LowCardinality(String),
    rule     LowCardinality(String),
    kind     LowCardinality(String),
    channel  LowCardinality(String),
    score    Float64,
    severity LowCardinality(String),
    excerpt  String,
    start    UInt32,
    end      UInt32,
    via      LowCardinality(String)
)) DEFAULT [] AFTER attributes;
