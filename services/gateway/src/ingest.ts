import type { RejectedSpan } from '@aispm/core';

const MAX_REASONS = 5;
const MAX_MESSAGE = 2048;

/** partial_success.error_message: how many, and the first few reasons with where they were. */
export function rejectionMessage(rejected: readonly RejectedSpan[]): string {
  const shown = rejected.slice(0, MAX_REASONS).map((r) => (r.path ? `${r.path}: ${r.reason}` : r.reason));
  const more = rejected.length > MAX_REASONS ? `; and ${rejected.length - MAX_REASONS} more` : '';
  const text = `${rejected.length} span(s) rejected: ${shown.join('; ')}${more}`;
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE - 1)}…` : text;
}
