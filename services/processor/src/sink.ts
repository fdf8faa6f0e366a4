import { clickhouseTime, type AiEvent, type Row } from '@aispm/core';
import type { EntityView } from './baseline/view.ts';
import { SCORE_MODEL } from './scorer.ts';
import { toPartsRecord, type AnomalyScoreRecord } from './score/score-codec.ts';
import type { Score } from './score/score.ts';

/** The anomaly_scores row (schemas/clickhouse/002_anomaly_scores.sql) for an event scored as `view` (its agent, or its app). */
export function scoreRow(event: AiEvent, view: EntityView, score: Score): Row {
  return {
    tenant: event.tenant,
    event_id: event.event_id,
    time: clickhouseTime(event.time),
    entity_type: view.entity,
    entity: view.key,
    app: event.app,
    agent: event.agent ?? '',
    score: score.score,
    learning: score.learning,
    features: score.parts.map((part) => part.feature),
    reasons: score.parts.map((part) => part.reason),
    model: SCORE_MODEL,
  };
}

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
