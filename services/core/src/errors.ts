/**
 * Every error aispm raises on purpose: a stable `code` for programs and metrics,
 * and a message that says what went wrong and what to do about it.
 */
export class AispmError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AispmError';
    this.code = code;
  }
}

/** A configuration value is missing or malformed; start-up stops with the key and the form it expects. */
export class ConfigError extends AispmError {
  readonly key: string;

  constructor(key: string, message: string) {
    super('config_invalid', `configuration ${key}: ${message}`);
    this.name = 'ConfigError';
    this.key = key;
  }
}

/** A record could not be decoded or validated; the reason goes with it to the dead-letter topic. */
export class InvalidRecordError extends AispmError {
  constructor(code: string, message: string) {
    super(code, message);
    this.name = 'InvalidRecordError';
  }
}

/** Human-readable text of anything thrown. */
export function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
