import type { RejectedSpan } from '@aispm/core';

const MAX_REASONS = 5;
const MAX_MESSAGE = 2048;

/** partial_success.error_message: how many, and the first few reasons with where they were. */
export function rejectionMessage(
  rejected: readonly RejectedSpan[],
  signal: 'traces' | 'logs' | 'metrics' = 'traces',
): string {
  const shown = rejected.slice(0, MAX_REASONS).map((r) => (r.path ? `${r.path}: ${r.reason}` : r.reason));
  const more = rejected.length > MAX_REASONS ? `; and ${rejected.length - MAX_REASONS} more` : '';
  const what = signal === 'traces' ? 'span(s)' : signal === 'logs' ? 'log record(s)' : 'data point(s)';
  const text = `${rejected.length} ${what} rejected: ${shown.join('; ')}${more}`;
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE - 1)}…` : text;
}
