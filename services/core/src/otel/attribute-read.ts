import { EVENT_LIMITS } from '../event/validate.ts';
import type { AttributeValue, SpanAttributes } from './span-input.ts';

/**
 * Characters of a raw identifier read: more than an identifier keeps (256), so a
 * secret near the cut is still whole when redaction looks for it; the event's
 * fields are cleaned, redacted and bounded afterwards (content/identifiers.ts).
 */
export const MAX_RAW_IDENTIFIER = 4096;

/**
 * The first of `keys` holding a usable identifier (conventions spell the same
 * thing differently; callers list the spellings in order of preference).
 * Numbers count (a numeric user id); blank strings and arrays do not. The value
 * is raw: spanToEvent protects what it stores.
 */
export function identifier(attributes: SpanAttributes, ...keys: string[]): string | null {
  for (const key of keys) {
    const value = attributes.get(key);
    const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
    if (text !== '') return text.slice(0, MAX_RAW_IDENTIFIER);
  }
  return null;
}

/**
 * The first of `keys` holding a valid token count. A present but unusable value
 * (negative, fractional, absurd, not a number) is named in `unusable` and
 * skipped: a bogus optional field must not make the whole span disappear.
 */
export function tokenCount(attributes: SpanAttributes, keys: string[], unusable: string[]): number | null {
  for (const key of keys) {
    const value = attributes.get(key);
    if (value === undefined) continue;
    const count =
      typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
    if (Number.isSafeInteger(count) && count >= 0 && count <= EVENT_LIMITS.maxTokens) return count;
    unusable.push(key);
  }
  return null;
}

/** A list attribute given as an array or as a comma-separated string, trimmed, de-duplicated and bounded. */
export function stringList(attributes: SpanAttributes, key: string, maxItems: number, maxLength: number): string[] {
  const value = attributes.get(key);
  const items = Array.isArray(value) ? value.map(String) : typeof value === 'string' ? value.split(',') : [];
  const kept = new Set<string>();
  for (const item of items) {
    const trimmed = item.trim().slice(0, maxLength);
    if (trimmed !== '') kept.add(trimmed);
    if (kept.size === maxItems) break;
  }
  return [...kept];
}

/** Any attribute value as text: arrays as JSON, scalars as they print. */
export function asText(value: AttributeValue): string {
  return Array.isArray(value) ? JSON.stringify(value) : String(value);
}
