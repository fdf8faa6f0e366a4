import { createHmac } from 'node:crypto';
import type { CapturePolicy, EventContent } from '../event/types.ts';
import type { ContentDetectOptions } from '../detect/scanners.ts';
import type { IdentifierOptions } from './identifiers.ts';
import { redact } from './redact.ts';
import { truncateUtf8 } from './truncate.ts';

/** The `capture` section of the configuration (AISPM_CAPTURE_*). */
export interface CaptureOptions {
  policy: CapturePolicy;
  /** Required for `hash`; configuration refuses to start without it. */
  hmacKey: string | null;
  /** Bytes kept per stored text, counted in UTF-8. */
  maxContentBytes: number;
  /** PII and secrets in identifier fields; pseudonymise with the key file or derived key when absent (see identifiers.ts). */
  identifiers?: IdentifierOptions;
  /** The content detectors run on the texts before the policy applies; on (defaults) when absent. */
  detect?: ContentDetectOptions;
}

const HMAC_HEX = /^[0-9a-f]{64}$/;

/** The texts of one span before the policy is applied; null where the span carried none. */
export type RawContent = Omit<EventContent, 'policy'>;

/**
 * Applies the capture policy to one span's texts:
 * - none: nothing is kept;
 * - hash: keyed HMAC-SHA256 hex of the whole text, so equal texts can be matched
 *   without being readable (an unkeyed hash of a short prompt could be guessed);
 * - redacted: PII and secrets masked, then cut to maxContentBytes;
 * - full: the text, cut to maxContentBytes.
 * Without an HMAC key, `hash` degrades to `none` rather than storing anything weaker.
 *
 * `declared` is the policy the sender says it already applied (the shim sets
 * `aispm.capture.policy`). It is never trusted to loosen anything: redaction and
 * truncation are idempotent, so they simply run again. Only hashing is not (a hash
 * of a hash would no longer match the same prompt seen elsewhere), so texts declared
 * hashed that are exactly HMAC-SHA256 hex are kept as they are, unless the policy
 * here is `none`.
 */
export function captureContent(raw: RawContent, options: CaptureOptions, declared?: string): EventContent {
  const configured = effectivePolicy(options);
  if (declared === 'hash' && configured !== 'none' && Object.values(raw).every((t) => t === null || HMAC_HEX.test(t))) {
    return { policy: 'hash', ...raw };
  }
  const policy = configured;
  const apply = (text: string | null): string | null => (text === null ? null : captureText(text, policy, options));
  return {
    policy,
    prompt: apply(raw.prompt),
    completion: apply(raw.completion),
    tool_arguments: apply(raw.tool_arguments),
    tool_result: apply(raw.tool_result),
  };
}

/** The policy as applied: `hash` without an HMAC key keeps nothing (`none`) rather than anything weaker. */
export function effectivePolicy(options: Pick<CaptureOptions, 'policy' | 'hmacKey'>): CapturePolicy {
  return options.policy === 'hash' && options.hmacKey === null ? 'none' : options.policy;
}

/** What the `hash` policy keeps of a (well-formed) text: its HMAC-SHA256 under `key`, in hex. */
export function hmacHex(key: string, text: string): string {
  return createHmac('sha256', key).update(text, 'utf8').digest('hex');
}

function captureText(text: string, policy: CapturePolicy, options: CaptureOptions): string | null {
  // Lone surrogates cannot be written as UTF-8; replace them before anything is measured or hashed.
  const wellFormed = text.toWellFormed();
  switch (policy) {
    case 'none':
      return null;
    case 'hash':
      return options.hmacKey === null ? null : hmacHex(options.hmacKey, wellFormed);
    case 'redacted':
      return truncateUtf8(redact(wellFormed).text, options.maxContentBytes);
    case 'full':
      return truncateUtf8(wellFormed, options.maxContentBytes);
  }
}
