import { findSensitive, type Finding } from '../../content/redact.ts';
import type { Severity } from '../../finding/finding.ts';
import type { ContentChannel } from '../types.ts';
import type { ContentDetection } from '../verdict.ts';
import { ignoredValue, loadSensitivePack, type SensitivePack, type SensitiveRule } from './pack.ts';

/**
 * The PII and secrets detector: the redaction engine's findings (content/redact.ts,
 * every decoded view of the text) as ContentDetections, with severity and
 * confidence from the rule pack (pack.ts). It runs where text enters aispm, on
 * every text, so most of its work is the engine's prefilter saying "nothing
 * here" (content/prefilter.ts).
 */
export interface SensitiveDetectorOptions {
  /** A compiled pack, or the file to load; default rules/sensitive/sensitive.v1.json. */
  pack?: SensitivePack | string;
  /** Characters scanned at most; the rest is not read. Default 128 Ki. */
  maxChars?: number;
  /** Characters of excerpt at most (the verdict contract bounds it at 120). Default 120. */
  maxExcerpt?: number;
  /** Characters of context on each side of the finding in its excerpt. Default 32. */
  excerptContext?: number;
  /** Detections returned at most, strongest first. Default 64. */
  maxDetections?: number;
}

export interface SensitiveDetector {
  readonly pack: SensitivePack;
  /** The detections in `text`, strongest first (severity, then score, then position). */
  detect(text: string, channel: ContentChannel): ContentDetection[];
}

export const SENSITIVE_DEFAULTS = {
  maxChars: 128 * 1024,
  maxExcerpt: 120,
  excerptContext: 32,
  maxDetections: 64,
} as const;

const SEVERITY_RANK: Record<Severity, number> = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };

/**
 * Literal prefixes a format publishes (`AKIA`, `sk-ant-`, `ghp_`): an excerpt may
 * show them, since they tell an analyst what leaked and nothing of the secret.
 * Longest first. Not a PEM header: secret scanners flag the header itself, so a
 * stored excerpt holding one would set them off (the kind says it all).
 */
const PUBLIC_PREFIXES = [
  'sk-ant-api03-',
  'github_pat_',
  'sk-ant-',
  'sk-proj-',
  'sk_live_',
  'rk_live_',
  'pk_live_',
  'sk_test_',
  'rk_test_',
  'pk_test_',
  'nvapi-',
  'glpat-',
  'whsec_',
  'xoxb-',
  'xoxp-',
  'xoxa-',
  'xoxe-',
  'xapp-',
  'pplx-',
  'AKIA',
  'ASIA',
  'AIza',
  'ghp_',
  'gho_',
  'ghu_',
  'ghs_',
  'ghr_',
  'gsk_',
  'npm_',
  'ya29.',
  'xai-',
  'eyJ',
  'hf_',
  'r8_',
  'SG.',
  'sk-',
].sort((a, b) => b.length - a.length);

/** Values that name a secret kept elsewhere, or a type, not a secret. */
const REFERENCE_WORDS = new Set([
  'null',
  'none',
  'nil',
  'undefined',
  'true',
  'false',
  'string',
  'str',
  'number',
  'int',
  'bool',
  'boolean',
  'bytes',
  'any',
  'optional',
  'required',
  'secret',
  'password',
  'token',
  'empty',
  'hidden',
  'masked',
  'await',
  'new',
  'self',
  'this',
  'function',
  'lambda',
  'async',
  'yield',
  'return',
  'typeof',
]);

/**
 * Whether an assignment's value is a reference rather than a secret: a variable
 * or template (`${DB_PASSWORD}`, `{{ .Values.pw }}`, `%(pw)s`, `<password>`), an
 * environment variable's name, a member access or call (`config.token`,
 * `os.getenv("X")`), an identifier (`access_token`, `apiKey`), a type or keyword.
 */
export function isReference(value: string): boolean {
  const v = value.replace(/^["'`]+|["'`),;:]+$/g, '');
  if (v.length <= 3) return true;
  if (/^(?:\$|<|\{\{|\{%|%\(|#\{|@\{|\[\[|!vault|vault:|env[:.([]|ENV\[|secretKeyRef|process\.env|os\.environ)/.test(v))
    return true;
  if (REFERENCE_WORDS.has(v.toLowerCase())) return true;
  // UPPER_SNAKE: an environment variable's name.
  if (/^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/.test(v) && !/\d{4}/.test(v)) return true;
  // A member access or a call: a.b, a.b.c(...), a->b, A::b.
  if (/^[A-Za-z_$][\w$]*(?:(?:\.|->|::)[A-Za-z_$][\w$]*)+(?:\(.*)?$/.test(v)) return true;
  if (/^[A-Za-z_$][\w$.]*\(.*\)?$/.test(v)) return true;
  // snake_case or camelCase identifiers without digits.
  if (/^[a-z]+(?:_[a-z]+)+$/.test(v) || /^[a-z]+(?:[A-Z][a-z]+)+$/.test(v)) return true;
  return false;
}

function ipv4Number(value: string): number | null {
  const parts = value.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const part of parts) n = n * 256 + Number(part);
  return Number.isFinite(n) ? n >>> 0 : null;
}

/** Whether the finding is one the pack leaves out of detection (it is still redacted). */
function ignored(pack: SensitivePack, rule: SensitiveRule, finding: Finding): boolean {
  const value = finding.value;
  if (pack.ignoredValues.has(ignoredValue(value))) return true;
  if (rule.kind === 'ipv4') {
    const address = ipv4Number(value);
    return address !== null && pack.ipv4Ranges.some(([network, mask]) => (address & mask) >>> 0 === network);
  }
  // A private key is long random text: a marker word in it is chance, not a placeholder.
  if (rule.family === 'secret' && rule.kind !== 'private_key') {
    const prefix = PUBLIC_PREFIXES.find((p) => value.startsWith(p)) ?? '';
    const body = value.slice(prefix.length);
    const lower = body.toLowerCase();
    if (pack.placeholderMarkers.some((marker) => lower.includes(marker))) return true;
    // A run of one character, or a body of two or three characters over and over.
    if (body.length >= 8 && new Set(body).size <= 3) return true;
    if (rule.ignoreReferences && isReference(value)) return true;
  }
  return false;
}

/** Whitespace (line breaks, tabs) as single spaces, so an excerpt is one line. */
const oneLine = (text: string): string => text.replace(/\s+/g, ' ');

/**
 * The finding in its context, every finding in reach replaced by a placeholder
 * (`[email]`, `AKIA…[aws_access_key]`): nothing of any value survives, and the
 * whole stays within `max` characters.
 */
function excerptOf(text: string, findings: readonly Finding[], index: number, context: number, max: number): string {
  const finding = findings[index]!;
  const label = placeholderOf(finding);
  const room = Math.max(0, max - label.length);
  const side = Math.min(context, Math.floor(room / 2));
  const from = Math.max(0, finding.start - side);
  const to = Math.min(text.length, finding.end + side);
  const parts: string[] = [];
  let at = from;
  let k = index;
  while (k > 0 && findings[k - 1]!.end > from) k--;
  for (; k < findings.length && findings[k]!.start < to; k++) {
    const other = findings[k]!;
    if (other.start > at) parts.push(oneLine(text.slice(at, other.start)));
    parts.push(k === index ? label : `[${other.kind}]`);
    at = Math.max(at, other.end);
  }
  if (at < to) parts.push(oneLine(text.slice(at, to)));
  const excerpt = parts.join('');
  return excerpt.length <= max ? excerpt : label.slice(0, max);
}

function placeholderOf(finding: Finding): string {
  const prefix = PUBLIC_PREFIXES.find((p) => finding.value.startsWith(p) && finding.value.length > p.length + 8);
  return prefix === undefined ? `[${finding.kind}]` : `${prefix}…[${finding.kind}]`;
}

export function createSensitiveDetector(options: SensitiveDetectorOptions = {}): SensitiveDetector {
  const pack = typeof options.pack === 'object' ? options.pack : loadSensitivePack(options.pack ?? undefined);
  const maxChars = options.maxChars ?? SENSITIVE_DEFAULTS.maxChars;
  const maxExcerpt = Math.min(options.maxExcerpt ?? SENSITIVE_DEFAULTS.maxExcerpt, 120);
  const context = options.excerptContext ?? SENSITIVE_DEFAULTS.excerptContext;
  const maxDetections = options.maxDetections ?? SENSITIVE_DEFAULTS.maxDetections;
  return {
    pack,
    detect(input: string, channel: ContentChannel): ContentDetection[] {
      if (input.length === 0) return [];
      const text = input.length > maxChars ? input.slice(0, maxChars) : input;
      const findings = findSensitive(text);
      if (findings.length === 0) return [];
      const out: ContentDetection[] = [];
      findings.forEach((finding, index) => {
        const rule = pack.byKind.get(finding.kind);
        if (rule === undefined || !rule.enabled || ignored(pack, rule, finding)) return;
        out.push({
          detector: 'sensitive',
          rule: rule.id,
          kind: rule.kind,
          channel,
          score: rule.confidence,
          severity: rule.severityIn[channel],
          excerpt: excerptOf(text, findings, index, context, maxExcerpt),
          start: finding.start,
          end: finding.end,
          via: finding.via,
        });
      });
      out.sort(
        (a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || b.score - a.score || a.start - b.start,
      );
      return out.length > maxDetections ? out.slice(0, maxDetections) : out;
    },
  };
}

let shared: SensitiveDetector | null = null;

/** The detector with the shipped pack, made on first use. */
export function defaultSensitiveDetector(): SensitiveDetector {
  return (shared ??= createSensitiveDetector());
}

/** PII and secrets in `text` with the shipped pack, strongest first. */
export function detectSensitive(text: string, channel: ContentChannel): ContentDetection[] {
  return defaultSensitiveDetector().detect(text, channel);
}
