/**
 * Cuts `text` to at most `max` characters without splitting a surrogate pair,
 * ending with `…` when cut. Counts UTF-16 units, which is never fewer than code
 * points, so the result fits limits counted either way.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return `${text.slice(0, Math.max(0, end))}…`;
}

/** Cuts `text` so its UTF-8 form is at most `maxBytes`, on a character boundary. */
export function truncateBytes(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end).toString('utf8');
}

/** Microseconds since the epoch (the Finding's times) as an ISO 8601 string. */
export function isoOfMicros(us: number): string {
  return new Date(Math.floor(us / 1000)).toISOString();
}
