import type { Severity } from '../finding/finding.ts';
import type { ContentChannel } from './types.ts';

/** The content detectors whose verdicts travel on an event. `guardrail`: a guard's own verdict (ours in the shim, or another library's span). */
export const CONTENT_DETECTORS = ['injection', 'sensitive', 'guardrail'] as const;
export type ContentDetector = (typeof CONTENT_DETECTORS)[number];

/**
 * One verdict of a content detector on one text of an event: what fired, where,
 * and a redacted excerpt. Detectors run where text enters aispm (shim, gateway),
 * before the capture policy strips it, so these travel even under policy `none`
 * (schemas/avro/ai-event.v3.avsc, field `detections`). Never the raw secret.
 */
export interface ContentDetection {
  detector: ContentDetector;
  /** The rule id in its pack (`inj.override.ignore_previous`, `secret.aws_access_key`, ...), or `model` for the learned scorer. */
  rule: string;
  /** What kind of thing it is: `instruction_override`, `jailbreak`, `email`, `aws_access_key`, `blocked` ... */
  kind: string;
  channel: ContentChannel;
  /** In [0, 1]. */
  score: number;
  severity: Severity;
  /** The stretch that fired, redacted and bounded (at most 120 characters). */
  excerpt: string;
  /** [start, end) in the text, UTF-16 units. */
  start: number;
  end: number;
  /** How the text was read when it fired: `text`, `base64`, ...; for guardrails, the action taken (`allow`, `redact`, `block`). */
  via: string;
}

/** Detections carried per event at most: the strongest first. */
export const MAX_EVENT_DETECTIONS = 16;
