// PII and secrets detection: the redaction engine's findings as ContentDetections, weighed by a rule pack.
export {
  createSensitiveDetector,
  defaultSensitiveDetector,
  detectSensitive,
  isReference,
  SENSITIVE_DEFAULTS,
  type SensitiveDetector,
  type SensitiveDetectorOptions,
} from './detect.ts';
export {
  compileSensitivePack,
  loadSensitivePack,
  DEFAULT_SENSITIVE_PACK,
  type SensitiveFamily,
  type SensitivePack,
  type SensitivePackSource,
  type SensitiveRule,
} from './pack.ts';
