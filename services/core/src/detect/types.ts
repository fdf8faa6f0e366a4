/** Where a text entered aispm: direct injection comes in user prompts, indirect in what tools and retrieval return. */
export const CONTENT_CHANNELS = [
  'user_prompt',
  'tool_output',
  'retrieved_doc',
  'completion',
  'tool_arguments',
] as const;
export type ContentChannel = (typeof CONTENT_CHANNELS)[number];

/** Channels that carry third-party content into a model's context: injections there are indirect. */
export const INDIRECT_CHANNELS: ReadonlySet<ContentChannel> = new Set(['tool_output', 'retrieved_doc']);

export const DETECTION_KINDS = [
  'instruction_override',
  'jailbreak',
  'system_prompt_extraction',
  'exfiltration',
  'tool_abuse',
  'obfuscation',
  'role_injection',
  'secrecy',
  'learned',
] as const;
export type DetectionKind = (typeof DETECTION_KINDS)[number];

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export type VerdictLabel = 'attack' | 'suspicious' | 'benign';

/** The framework references of a verdict: each id once, in order of first appearance. */
export interface Frameworks {
  owaspLlm: string[];
  owaspAgentic: string[];
  atlas: string[];
}

/** One reason a text scored: a rule, an obfuscation finding, or the learned model. */
export interface DetectionSignal {
  /** The rule id, `model`, or `obfuscation.*` for what the normaliser found. */
  id: string;
  kind: DetectionKind;
  severity: Severity;
  score: number;
  /** The stretch of the original text that fired the signal, redacted (no PII or secret) and bounded. */
  excerpt: string;
  /** [start, end) in the original text (UTF-16 units); for a decoded payload, the payload's stretch. */
  offsets: [number, number];
  /** How the text was read when the signal fired: `text`, or the decoding that revealed it (`base64`, ...). */
  via: string;
}

export interface InjectionVerdict {
  /** In [0, 1]: the signals' scores combined as independent evidence (noisy-or). */
  score: number;
  label: VerdictLabel;
  signals: DetectionSignal[];
  frameworks: Frameworks;
  /** True when only the first `maxBytes` of the text were scanned. */
  truncated: boolean;
  /** UTF-8 bytes scanned. */
  scannedBytes: number;
}

export interface DetectOptions {
  /** Bytes of text scanned at most (UTF-8); the rest is ignored and the verdict says `truncated`. Default 32 KiB. */
  maxBytes?: number;
  /** Score from which a text is an attack. Default 0.5. */
  attackThreshold?: number;
  /** Score from which a text is suspicious. Default 0.25. */
  suspiciousThreshold?: number;
  /** Characters of excerpt at most. Default 120. */
  maxExcerpt?: number;
  /** Signals reported at most, strongest first. Default 8. */
  maxSignals?: number;
}
