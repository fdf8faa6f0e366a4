import type { AiEvent, ContentChannel, Severity } from '@aispm/core';

/**
 * The fields of a content detector's verdict (core's ContentDetection,
 * services/core/src/detect/verdict.ts) that the behavioural detectors read. Local
 * and structural so this folder compiles whether or not AiEvent carries
 * `detections` yet, and whether or not core exports the type.
 */
export interface ContentVerdict {
  detector: 'injection' | 'sensitive' | 'guardrail';
  rule: string;
  kind: string;
  channel: ContentChannel;
  score: number;
  severity: Severity;
  via: string;
}

/** Verdicts read per event at most (core bounds them at 16 too: MAX_EVENT_DETECTIONS). */
export const MAX_VERDICTS = 16;

const NONE: readonly ContentVerdict[] = Object.freeze([]);

/** The content verdicts an event carries (none when the field is absent), at most MAX_VERDICTS. */
export function contentVerdicts(event: AiEvent): readonly ContentVerdict[] {
  const all = (event as { detections?: readonly ContentVerdict[] | null }).detections;
  if (!all || all.length === 0) return NONE;
  return all.length > MAX_VERDICTS ? all.slice(0, MAX_VERDICTS) : all;
}
