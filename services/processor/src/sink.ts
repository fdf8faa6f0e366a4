import type { AiEvent } from '@aispm/core';
import type { AvroColumns } from '@aispm/store';
import type { EntityView } from './baseline/view.ts';
import { SCORE_MODEL } from './scorer.ts';
import { toPartsRecord, type AnomalyScoreRecord } from './score/score-codec.ts';
import type { Score } from './score/score.ts';

/** The table scores are stored in, created by schemas/clickhouse/002_anomaly_scores.sql. */
export const SCORES_TABLE = 'anomaly_scores';

/**
 * The anomaly_scores columns from score records as published on the scores topic
 * (schemas/avro/anomaly-score.v1.avsc): the stored row is the published record.
 */
export const SCORES_FROM_AVRO: AvroColumns = {
  structure:
    "tenant String, event_id String, time DateTime64(6, 'UTC'), entity_type String, entity String, app String, " +
    'agent Nullable(String), score Float64, learning Bool, model String, ' +
    'parts Array(Tuple(feature String, z Float64, score Float64, reason String))',
  columns: {
    tenant: 'tenant',
    event_id: 'event_id',
    time: 'time',
    entity_type: 'entity_type',
    entity: 'entity',
    app: 'app',
    agent: "ifNull(agent, '')",
    score: 'score',
    learning: 'learning',
    features: 'parts.feature',
    reasons: 'parts.reason',
    model: 'model',
  },
};

export function scoreRecord(event: AiEvent, view: EntityView, score: Score): AnomalyScoreRecord {
  return {
    tenant: event.tenant,
    event_id: event.event_id,
    time: event.time,
    entity_type: view.entity,
    entity: view.key,
    app: event.app,
    agent: event.agent,
    score: score.score,
    learning: score.learning,
    parts: toPartsRecord(score),
    model: SCORE_MODEL,
  };
}
