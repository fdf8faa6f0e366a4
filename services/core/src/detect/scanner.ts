import { createHash } from 'node:crypto';
import type { EventKind } from '../event/types.ts';
import type { RawContent } from '../content/capture.ts';
import type { InjectionDetector } from './detect.ts';
import type { ContentChannel } from './types.ts';
import { MAX_EVENT_DETECTIONS, type ContentDetection } from './verdict.ts';

/**
 * The content side of the Detector seam: one implementation per detector
 * (prompt injection, PII and secrets), each turning one text of one channel into
 * verdicts. The scanner runs every one over every text of a span, where the text
 * enters aispm (the gateway's and the shim's mapping), before the capture policy.
 */
export interface TextDetector {
  readonly id: string;
  detect(text: string, channel: ContentChannel): ContentDetection[];
}

export interface ContentScanner {
  /** The verdicts on one span's texts, strongest first, at most MAX_EVENT_DETECTIONS. */
  scan(raw: RawContent, kind: EventKind, tenant?: string): ContentDetection[];
  /** The verdicts on one text of a known channel (the shim knows each message's role). */
  scanText(text: string, channel: ContentChannel, tenant?: string): ContentDetection[];
}

export interface ContentScannerOptions {
  /**
   * Verdicts remembered per text, per tenant and channel, most recently used kept
   * (default 10,000; 0: none). A chat model call re-sends the whole conversation,
   * so most of a prompt's messages were scanned on the calls before: each is
   * scanned once.
   */
  cacheEntries?: number;
}

/** Texts up to this length key the cache as they are; longer ones by their SHA-1 (collisions are not a concern here). */
const KEY_AS_IS = 128;
const NONE: readonly ContentDetection[] = Object.freeze([]);

/**
 * Which channel each text of a span is. A tool call's result is third-party
 * content coming back into the agent (indirect injection); a retrieval's
 * documents are retrieved_doc. A prompt is what the user, or the app on the
 * user's behalf, sent.
 */
export function channelsOf(raw: RawContent, kind: EventKind): [string, ContentChannel][] {
  const texts: [string, ContentChannel][] = [];
  if (raw.prompt) texts.push([raw.prompt, 'user_prompt']);
  if (raw.completion) texts.push([raw.completion, kind === 'retrieval' ? 'retrieved_doc' : 'completion']);
  if (raw.tool_arguments) texts.push([raw.tool_arguments, 'tool_arguments']);
  if (raw.tool_result) texts.push([raw.tool_result, kind === 'retrieval' ? 'retrieved_doc' : 'tool_output']);
  return texts;
}

export function createContentScanner(
  detectors: readonly TextDetector[],
  options: ContentScannerOptions = {},
): ContentScanner {
  const capacity = options.cacheEntries ?? 10_000;
  // Tenants are walls: the tenant is part of every key.
  const cache = new Map<string, readonly ContentDetection[]>();
  const detect = (text: string, channel: ContentChannel, tenant: string): readonly ContentDetection[] => {
    const key =
      capacity > 0
        ? `${tenant}\u0000${channel}\u0000${text.length <= KEY_AS_IS ? text : createHash('sha1').update(text).digest('base64')}`
        : '';
    if (capacity > 0) {
      const hit = cache.get(key);
      if (hit !== undefined) {
        cache.delete(key);
        cache.set(key, hit);
        return hit;
      }
    }
    let found: ContentDetection[] | null = null;
    for (const detector of detectors) for (const d of detector.detect(text, channel)) (found ??= []).push(d);
    const verdicts = found ?? NONE;
    if (capacity > 0) {
      if (cache.size >= capacity) cache.delete(cache.keys().next().value!);
      cache.set(key, verdicts);
    }
    return verdicts;
  };
  return {
    scanText(text, channel, tenant = '') {
      return strongestFirst([...detect(text, channel, tenant)]);
    },
    scan(raw, kind, tenant = '') {
      if (detectors.length === 0) return [];
      const found: ContentDetection[] = [];
      for (const [text, channel] of channelsOf(raw, kind))
        for (const segment of channel === 'user_prompt' ? transcriptSegments(text) : [{ start: 0, text, channel }])
          for (const d of detect(segment.text, segment.channel, tenant))
            found.push(segment.start === 0 ? d : { ...d, start: d.start + segment.start, end: d.end + segment.start });
      return strongestFirst(found);
    },
  };
}

export interface Segment {
  /** Offset of the segment in the whole text. */
  start: number;
  text: string;
  channel: ContentChannel;
}

/** A line that opens a message of a rendered transcript (otel/messages.ts renderMessages: `role: text`). */
const ROLE_LINE = /^(system|developer|user|human|assistant|ai|model|tool|function|ipython): /gm;
const ROLE_CHANNEL: Record<string, ContentChannel | null> = {
  user: 'user_prompt',
  human: 'user_prompt',
  assistant: 'completion',
  ai: 'completion',
  model: 'completion',
  tool: 'tool_output',
  function: 'tool_output',
  ipython: 'tool_output',
  system: 'user_prompt',
  developer: 'user_prompt',
};

/**
 * A prompt rendered from chat messages, split into its messages, each read as
 * its channel: a tool message is third-party content (indirect injection), an
 * assistant turn is the model's own output. The app's instructions, the system
 * and developer messages *leading* the transcript, are not user input and are not
 * scanned (a system prompt naturally reads like instructions). A `system:` line
 * after the first user or tool message is scanned as user input: that is what a
 * role-injection attack writes.
 */
export function transcriptSegments(text: string): Segment[] {
  const segments: Segment[] = [];
  let leading = true;
  let start = 0;
  let channel: ContentChannel | null = 'user_prompt';
  let from = 0;
  // A message ends before the line break that starts the next: the same message reads the same wherever it stands.
  const push = (end: number): void => {
    const last = end > from && text.charCodeAt(end - 1) === 10 ? end - 1 : end;
    if (channel !== null && last > from) segments.push({ start: from, text: text.slice(from, last), channel });
  };
  ROLE_LINE.lastIndex = 0;
  for (let m = ROLE_LINE.exec(text); m !== null; m = ROLE_LINE.exec(text)) {
    if (m.index > start || segments.length > 0 || m.index > 0) push(m.index);
    const role = m[1]!;
    const system = role === 'system' || role === 'developer';
    if (!system) leading = false;
    channel = system && leading ? null : ROLE_CHANNEL[role]!;
    start = m.index;
    from = m.index + m[0].length;
  }
  push(text.length);
  return segments;
}

/** Highest score first, then by offset, bounded. */
export function strongestFirst(found: ContentDetection[]): ContentDetection[] {
  if (found.length > 1) found.sort((a, b) => b.score - a.score || a.start - b.start);
  return found.length > MAX_EVENT_DETECTIONS ? found.slice(0, MAX_EVENT_DETECTIONS) : found;
}

/**
 * The injection detector as a TextDetector: a text labelled attack gives one
 * detection per signal, each with the text's score; any other text gives none.
 */
export function injectionTextDetector(detector: InjectionDetector): TextDetector {
  return {
    id: 'injection',
    detect(text, channel) {
      const verdict = detector.detect(text, channel);
      // Suspicious is for triage (`aispm scan`); on every span of a fleet only attacks are worth a finding.
      if (verdict.label !== 'attack') return [];
      // A model's own output reads like instructions often; only a rule (an exfiltration link, ...) counts there.
      const signals = channel === 'completion' ? verdict.signals.filter((s) => s.kind !== 'learned') : verdict.signals;
      return signals.map((s) => ({
        detector: 'injection',
        rule: s.id,
        kind: s.kind,
        channel,
        // The text's combined score: a weak signal of a text that is an attack as a whole is no weak finding.
        score: verdict.score,
        severity: s.severity,
        excerpt: s.excerpt,
        start: s.offsets[0],
        end: s.offsets[1],
        via: s.via,
      }));
    },
  };
}
