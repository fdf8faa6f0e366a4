import type { TextDetector } from '../scanner.ts';
import { createSensitiveDetector } from '../sensitive/detect.ts';

/**
 * PII and secrets as a TextDetector for the guard: the sensitive detector
 * (detect/sensitive, its rule pack's ids `pii.<kind>` and `secret.<kind>`), the
 * same one the gateway and the shim's mapping run.
 */
export function sensitiveTextDetector(): TextDetector {
  const detector = createSensitiveDetector();
  return { id: 'sensitive', detect: (text, channel) => detector.detect(text, channel) };
}
