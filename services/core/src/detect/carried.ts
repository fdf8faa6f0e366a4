import { SEVERITIES } from '../finding/finding.ts';
import { CONTENT_CHANNELS } from './types.ts';
import { CONTENT_DETECTORS, MAX_EVENT_DETECTIONS, type ContentDetection } from './verdict.ts';

/**
 * The span attribute in which the shim carries the verdicts it made on the raw
 * texts before its capture policy stripped them (JSON array of ContentDetection),
 * so that an OTLP export to the gateway loses nothing the policy dropped.
 */
export const DETECTIONS_ATTRIBUTE = 'aispm.content.detections';

/** Bytes of the attribute read at most: a span's verdicts are small; anything larger is not ours. */
const MAX_ATTRIBUTE_BYTES = 32 * 1024;
const MAX_TEXT = 256;

export function encodeDetections(detections: readonly ContentDetection[]): string {
  return JSON.stringify(detections.slice(0, MAX_EVENT_DETECTIONS));
}

/**
 * The verdicts a span carries, each checked field by field: a malformed entry is
 * left out (a span is never rejected for it), strings are bounded.
 */
export function decodeDetections(value: unknown): ContentDetection[] {
  if (typeof value !== 'string' || value.length > MAX_ATTRIBUTE_BYTES) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  const out: ContentDetection[] = [];
  for (const item of parsed.slice(0, MAX_EVENT_DETECTIONS)) {
    const d = detectionOf(item);
    if (d) out.push(d);
  }
  return out;
}

function detectionOf(item: unknown): ContentDetection | null {
  if (typeof item !== 'object' || item === null) return null;
  const o = item as Record<string, unknown>;
  const text = (k: string): string | null => {
    const v = o[k];
    return typeof v === 'string' ? v.slice(0, MAX_TEXT) : null;
  };
  const int = (k: string): number | null => {
    const v = o[k];
    return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 31 ? v : null;
  };
  const detector = text('detector');
  const channel = text('channel');
  const severity = text('severity');
  const [rule, kind, excerpt, via] = [text('rule'), text('kind'), text('excerpt'), text('via')];
  const [start, end] = [int('start'), int('end')];
  const score = typeof o.score === 'number' && o.score >= 0 && o.score <= 1 ? o.score : null;
  if (!detector || !(CONTENT_DETECTORS as readonly string[]).includes(detector)) return null;
  if (!channel || !(CONTENT_CHANNELS as readonly string[]).includes(channel)) return null;
  if (!severity || !(SEVERITIES as readonly string[]).includes(severity)) return null;
  if (!rule || kind === null || excerpt === null || via === null || start === null || end === null || score === null)
    return null;
  return {
    detector: detector as ContentDetection['detector'],
    rule,
    kind,
    channel: channel as ContentDetection['channel'],
    score,
    severity: severity as ContentDetection['severity'],
    excerpt: excerpt.slice(0, 120),
    start,
    end,
    via,
  };
}

/** Both lists as one, each verdict once (same detector, rule, channel and place), strongest first, bounded. */
export function mergeDetections(a: readonly ContentDetection[], b: readonly ContentDetection[]): ContentDetection[] {
  if (a.length === 0) return b.slice(0, MAX_EVENT_DETECTIONS);
  if (b.length === 0) return a.slice(0, MAX_EVENT_DETECTIONS);
  const seen = new Set<string>();
  const out: ContentDetection[] = [];
  for (const d of [...a, ...b]) {
    const key = `${d.detector}\u0000${d.rule}\u0000${d.channel}\u0000${d.start}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(d);
  }
  out.sort((x, y) => y.score - x.score || x.start - y.start);
  return out.slice(0, MAX_EVENT_DETECTIONS);
}
