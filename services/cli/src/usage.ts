/** A wrong command line: main prints the message and the command's --help hint, and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Parses a numeric flag that must be positive (or, with allowZero, non-negative). */
export function positiveNumber(flag: string, raw: string, allowZero = false): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new UsageError(`${flag} expects a ${allowZero ? 'non-negative' : 'positive'} number, got "${raw}"`);
  }
  return value;
}
