-- Posture scores over time (services/processor/src/posture): at each run of the
-- posture job, one row for each tenant (asset_kind 'tenant', asset '') and one for
-- each of its assets whose score is below 100 or was in the run before.
--
-- score is 0-100 (100: nothing to fix). The six category columns are the
-- category's own score, 0-100; the total is their product scaled to 100 (see
-- posture.ts): injection_exposure (prompt injection), data_leakage (sensitive data,
-- exfiltration), agency (excessive agency, toxic combinations), shadow_ai (shadow AI
-- findings and unapproved assets), model_integrity (silent model changes, drift),
-- anomalies (behaviour anomalies, denial of wallet).
--
-- actions are the (at most three) changes that would raise the score most, strongest
-- first, as parallel arrays: the text, the points the score would gain (computed by
-- scoring again without the finding, or with the asset approved) and what it names
-- (a finding id, or kind:name of an asset to approve).
--
-- Latest score per asset: argMax(score, time) … GROUP BY tenant, asset_kind, asset.
-- Kept 90 days; whole daily partitions expire at once.
CREATE TABLE IF NOT EXISTS posture
(
    tenant              LowCardinality(String),
    time                DateTime64(3, 'UTC'),
    asset_kind          LowCardinality(String),
    asset               String,
    score               Float32,
    injection_exposure  Float32,
    data_leakage        Float32,
    agency              Float32,
    shadow_ai           Float32,
    model_integrity     Float32,
    anomalies           Float32,
    open_findings       UInt32,
    approval            LowCardinality(String),
    owner               String,
    actions             Array(String),
    action_points       Array(Float32),
    action_targets      Array(String)
)
ENGINE = MergeTree
PARTITION BY toDate(time)
ORDER BY (tenant, asset_kind, asset, time)
TTL toDate(time) + INTERVAL 90 DAY
SETTINGS ttl_only_drop_parts = 1;
