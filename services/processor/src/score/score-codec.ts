import { createCodec, type AvroCodec } from '@aispm/core';
import type { Score } from './score.ts';

/** The record published on aispm.scores.v1 (schemas/avro/anomaly-score.v1.avsc). */
export interface AnomalyScoreRecord {
  tenant: string;
  event_id: string;
  time: number;
  entity_type: string;
  entity: string;
  app: string;
  agent: string | null;
  score: number;
  learning: boolean;
  parts: { feature: string; z: number; score: number; reason: string }[];
  model: string;
}

export const createScoreCodec = (): AvroCodec<AnomalyScoreRecord> => createCodec<AnomalyScoreRecord>('anomaly-score');

export const toPartsRecord = (score: Score): AnomalyScoreRecord['parts'] =>
  score.parts.map(({ feature, z, score: part, reason }) => ({ feature, z, score: part, reason }));
