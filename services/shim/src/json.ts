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
