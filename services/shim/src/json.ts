/** Reading provider payloads defensively: a field of an unexpected type reads as absent. */
export type Json = Record<string, unknown>;

export function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function obj(value: unknown): Json {
  return typeof value === 'object' && value !== null ? (value as Json) : {};
}

export function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** A JSON text, parsed; a text that does not parse, or a value that is not a string, as it is. */
export function parseJsonText(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
