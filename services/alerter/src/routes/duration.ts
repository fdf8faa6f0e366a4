/** Units of a duration as Alertmanager writes them: `30s`, `5m`, `4h`, `1h30m`, `500ms`, `1d`. */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const WHOLE = /^(?:\d+(?:ms|s|m|h|d|w))+$/;
const PART = /(\d+)(ms|s|m|h|d|w)/g;

/** Milliseconds of a duration like `1h30m`, or null when it is not one. `0` alone is 0. */
export function parseDuration(text: string): number | null {
  if (text === '0') return 0;
  if (!WHOLE.test(text)) return null;
  let ms = 0;
  for (const [, n, unit] of text.matchAll(PART)) ms += Number(n) * UNIT_MS[unit!]!;
  return Number.isSafeInteger(ms) ? ms : null;
}
