import { existsSync } from 'node:fs';
import { decodedViews, type View } from '../content/decode.ts';
import { findSensitive, redact } from '../content/redact.ts';
import { placeholder } from '../content/redaction-rules.ts';
import { truncateUtf8 } from '../content/truncate.ts';
import { encodedPayloads, MAX_PAYLOADS, rot13Stretches, type Payload } from './decoders.ts';
import { hiddenHtml, markdownExfiltration, type Finding } from './hidden.ts';
import { DEFAULT_MODEL, loadModel, scoreText, type InjectionModel } from './model.ts';
import { countInvisible, normalise, type Normalised } from './normalise.ts';
import {
  collectCandidates,
  loadRulePack,
  markLiterals,
  MAX_OCCURRENCES,
  type Prefilter,
  type BuiltinSignal,
  type CompiledPattern,
  type CompiledRule,
  type RulePack,
} from './rule-pack.ts';
import {
  INDIRECT_CHANNELS,
  type ContentChannel,
  type DetectOptions,
  type Frameworks,
  type InjectionVerdict,
  type DetectionSignal,
  type VerdictLabel,
} from './types.ts';

export const DETECT_DEFAULTS: Required<DetectOptions> = {
  maxBytes: 32 * 1024,
  attackThreshold: 0.5,
  suspiciousThreshold: 0.25,
  maxExcerpt: 120,
  maxSignals: 8,
};

/** Matches of one pattern reported at most: a text repeating a phrase a thousand times is one signal. */
const MAX_MATCHES_PER_PATTERN = 2;

export interface InjectionDetector {
  readonly rules: RulePack;
  readonly model: InjectionModel | null;
  detect(text: string, channel?: ContentChannel, options?: DetectOptions): InjectionVerdict;
}

/** A signal before its excerpt is cut: offsets in the original text. */
interface Raw {
  rule: CompiledRule;
  score: number;
  start: number;
  end: number;
  via: string;
}

/** A text the rules and the model read: the whole text, or a decoded payload standing for a stretch of it. */
interface Reading {
  norm: Normalised;
  via: string;
  /** For a payload, its stretch of the original text; every match in it is reported there. */
  span: [number, number] | null;
}

/**
 * A detector over a rule pack and (optionally) a model. Pure apart from reading
 * its files once: detect() keeps no state between calls.
 */
export function createInjectionDetector(
  options: { rules?: RulePack | string; model?: InjectionModel | string | null } = {},
): InjectionDetector {
  const rules = typeof options.rules === 'object' ? options.rules : loadRulePack(options.rules);
  const model =
    options.model === null
      ? null
      : typeof options.model === 'object'
        ? options.model
        : options.model !== undefined || existsSync(DEFAULT_MODEL)
          ? loadModel(options.model)
          : null;
  return {
    rules,
    model,
    detect: (text, channel = 'user_prompt', opts = {}) => detect(rules, model, text, channel, opts),
  };
}

let shared: InjectionDetector | undefined;

/** The default rule pack and model, loaded on first use. */
export function defaultInjectionDetector(): InjectionDetector {
  return (shared ??= createInjectionDetector());
}

/** Scans one text with the default rule pack and model. */
export function detectInjection(
  text: string,
  channel: ContentChannel = 'user_prompt',
  options: DetectOptions = {},
): InjectionVerdict {
  return defaultInjectionDetector().detect(text, channel, options);
}

/**
 * The text as the model reads it: its most decoded view (JSON escapes, percent-encoding
 * and HTML references undone), normalised. The training script reads its corpus
 * through this too, so training and detection see the same features.
 */
export function modelText(text: string): string {
  return normalise(mostDecoded(text).text).text;
}

/**
 * Escapes decodedViews undoes that the normaliser does not: `\u` and `\x` escapes,
 * percent-encoding, HTML character references, and `+` for a space in a query. The
 * rest (`\n`, `\"`, invisible characters, odd spaces, full-width letters) the
 * normaliser folds itself, so a text with none of these is its own most decoded
 * view, and the views are not built.
 */
const ESCAPED =
  /\\[ux][0-9A-Fa-f]{2}|%[0-9A-Fa-f]{2}|&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z]{2,8});|[?&][^\s=&]{1,64}=[^\s&]{0,256}\+/;

function mostDecoded(text: string): View {
  if (!ESCAPED.test(text)) return { text, from: null, to: null };
  const views = decodedViews(text);
  return views[views.length - 1]!;
}

function detect(
  rules: RulePack,
  model: InjectionModel | null,
  input: string,
  channel: ContentChannel,
  options: DetectOptions,
): InjectionVerdict {
  const opts = { ...DETECT_DEFAULTS, ...options };
  const text = truncateUtf8(input, opts.maxBytes);
  const truncated = text.length < input.length;
  const raws: Raw[] = [];
  const builtin = (id: BuiltinSignal, strength: number, start: number, end: number, via = 'text'): void => {
    const rule = rules.builtins.get(id)!;
    raws.push({ rule, score: rule.confidence * strength, start, end, via });
  };

  // The most decoded view: JSON escapes, percent-encoding, HTML references undone (content/decode.ts).
  const view = mostDecoded(text);
  const toOriginal = (a: number, b: number): [number, number] =>
    view.from === null || view.to === null ? [a, b] : [view.from[a] ?? text.length, view.to[b - 1] ?? text.length];
  const norm = normalise(view.text, view.from && view.to ? { from: view.from, to: view.to } : null);
  // Decoding drops invisible characters before the normaliser could count them: count them in the original.
  const invisible = view.from === null ? norm.invisible : countInvisible(text);
  if (invisible > 0) {
    const first = norm.invisibleFirst >= 0 ? norm.invisibleFirst : 0;
    builtin('obfuscation.invisible', Math.min(1, 0.3 + invisible / 20), first, Math.max(first + 1, norm.invisibleLast));
  }
  if (norm.homoglyphs > 0)
    builtin('obfuscation.homoglyphs', Math.min(1, 0.5 + norm.homoglyphs / 10), norm.homoglyphAt, norm.homoglyphAt + 1);
  if (norm.leet >= 2) builtin('obfuscation.leetspeak', Math.min(1, norm.leet / 8), norm.leetAt, norm.leetAt + 1);

  const payloads: Payload[] = [];
  const findings: Finding[] = [];
  for (const run of norm.tags) {
    builtin('obfuscation.unicode_tags', run.text.length >= 4 ? 1 : 0.5, run.start, run.end);
    if (run.text.length >= 4) payloads.push({ via: 'unicode_tags', start: run.start, end: run.end, text: run.text });
  }
  const viewPayloads: Payload[] = [];
  encodedPayloads(view.text, viewPayloads);
  markdownExfiltration(view.text, findings);
  hiddenHtml(view.text, findings, viewPayloads);
  for (const payload of viewPayloads) {
    const [start, end] = toOriginal(payload.start, payload.end);
    payloads.push({ ...payload, start, end });
  }
  for (const finding of findings) {
    const [start, end] = toOriginal(finding.start, finding.end);
    builtin(finding.id as BuiltinSignal, finding.score, start, end);
  }
  const rot: Payload[] = [];
  rot13Stretches(norm.text, rot);
  for (const payload of rot) {
    payloads.push({ ...payload, start: norm.from[payload.start] ?? 0, end: norm.to[payload.end - 1] ?? text.length });
  }

  const readings: Reading[] = [{ norm, via: 'text', span: null }];
  for (const payload of payloads.slice(0, MAX_PAYLOADS)) {
    readings.push({ norm: normalise(payload.text), via: payload.via, span: [payload.start, payload.end] });
  }
  const candidates: CompiledPattern[] = [];
  const indirect = INDIRECT_CHANNELS.has(channel);
  for (const reading of readings) {
    const before = raws.length;
    candidates.length = 0;
    if (markLiterals(rules.prefilter, reading.norm.text)) collectCandidates(rules, candidates);
    for (const pattern of candidates) {
      if (!pattern.rule.channels.has(channel)) continue;
      matchPattern(pattern, reading, raws, rules.prefilter);
    }
    let modelScore = 0;
    if (model !== null) {
      const { p, at } = scoreText(model, reading.norm.text);
      modelScore = p;
      if (p >= opts.suspiciousThreshold / 2) {
        const [start, end] = reading.span ?? excerptAround(reading.norm, at);
        builtin('model', p, start, end, reading.via);
      }
    }
    // A payload that was encoded and reads as an attack was hidden on purpose: that is evidence too.
    if (reading.span !== null && reading.via !== 'hidden_html') {
      const fired = raws.slice(before).some((raw) => raw.score >= opts.suspiciousThreshold);
      if (fired || modelScore >= opts.attackThreshold)
        builtin('obfuscation.encoded', 1, reading.span[0], reading.span[1], reading.via);
    }
  }
  return verdict(raws, text, indirect, truncated, opts);
}

function matchPattern(pattern: CompiledPattern, reading: Reading, raws: Raw[], filter: Prefilter): void {
  const { rule } = pattern;
  const { norm } = reading;
  const text = norm.text;
  const lead = pattern.lead;
  const count = lead >= 0 ? filter.occurrenceCount[lead]! : MAX_OCCURRENCES + 1;
  const report = (match: RegExpExecArray): void => {
    const [start, end] = reading.span ?? [norm.from[match.index] ?? 0, norm.to[match.index + match[0].length - 1] ?? 0];
    // A phrase in quotes is more often talked about (a security discussion, a test case) than said: the rule
    // weighs less and the model, which reads the context, decides.
    const quoted = isQuoted(text, match.index, match.index + match[0].length);
    raws.push({ rule, score: rule.confidence * (quoted ? QUOTED_WEIGHT : 1), start, end, via: reading.via });
  };
  if (count <= MAX_OCCURRENCES) {
    // A match begins at an occurrence of the pattern's lead literals: try the sticky regex there and nowhere else.
    const { sticky } = pattern;
    const base = lead * MAX_OCCURRENCES;
    let found = 0;
    let after = 0;
    for (let k = 0; k < count && found < MAX_MATCHES_PER_PATTERN; k++) {
      const at = filter.occurrences[base + k]!;
      if (at < after || !setsWithin(pattern, filter, at, at + pattern.maxLength)) continue;
      sticky.lastIndex = at;
      const match = sticky.exec(text);
      if (match === null) continue;
      report(match);
      found++;
      after = match.index + Math.max(1, match[0].length);
    }
    sticky.lastIndex = 0;
    return;
  }
  const { regex } = pattern;
  // A pattern that starts with an anchor cannot match before that anchor's first occurrence.
  regex.lastIndex = lead >= 0 ? filter.firstAt[lead]! : 0;
  for (let k = 0; k < MAX_MATCHES_PER_PATTERN; k++) {
    const match = regex.exec(text);
    if (match === null) break;
    report(match);
    // An empty match would repeat forever; step past it.
    if (match[0].length === 0) regex.lastIndex++;
  }
  regex.lastIndex = 0;
}

/**
 * Whether each of the pattern's anchor sets has an occurrence in [from, to): a match starting at `from` is no
 * longer than the pattern's longest, and holds a literal of every set. A set whose occurrences overflowed the
 * slots counts as present.
 */
function setsWithin(pattern: CompiledPattern, filter: Prefilter, from: number, to: number): boolean {
  const { sets, lead } = pattern;
  for (let m = 0; m < sets.length; m++) {
    const set = sets[m]!;
    if (set === lead) continue;
    const count = filter.occurrenceCount[set]!;
    if (count > MAX_OCCURRENCES) continue;
    const base = set * MAX_OCCURRENCES;
    let inside = false;
    for (let k = 0; k < count && !inside; k++) {
      const at = filter.occurrences[base + k]!;
      if (at >= to) break;
      inside = at >= from;
    }
    if (!inside) return false;
  }
  return true;
}

/** How much a rule's confidence counts when its match sits inside quotes. */
const QUOTED_WEIGHT = 0.25;
const OPENING_QUOTES = '"“„«「『`';
const CLOSING_QUOTES = '"”“»」』`';

/** Whether [start, end) sits between an opening quote shortly before and a closing one shortly after. */
function isQuoted(text: string, start: number, end: number): boolean {
  let open = -1;
  for (let i = start - 1; i >= Math.max(0, start - 60); i--) {
    const c = text[i]!;
    if (OPENING_QUOTES.includes(c) || (c === "'" && (i === 0 || text[i - 1] === ' '))) {
      open = i;
      break;
    }
    if (CLOSING_QUOTES.includes(c) && c !== '"' && c !== '`') return false;
  }
  if (open < 0) return false;
  // A JSON or code string value (`"content": "…"`, `["…"`, `x = "…"`) is data, not a quotation; `Search: "…"` is one.
  let before = open - 1;
  while (before >= 0 && text[before] === ' ') before--;
  const mark = text[before];
  const ascii = text[open] === '"' || text[open] === '`';
  if (ascii && mark !== undefined && ',[{='.includes(mark)) return false;
  if (ascii && mark === ':' && text[before - 1] === '"') return false;
  // The closing quote may fall inside the match, when a pattern's trailing gap runs over it.
  for (let i = start + 1; i < Math.min(text.length, end + 60); i++) {
    const c = text[i]!;
    if (CLOSING_QUOTES.includes(c) || (c === "'" && (i + 1 === text.length || /[ .,;:!?)]/.test(text[i + 1]!))))
      return true;
  }
  return false;
}

/** A stretch of the original text around normalised offset `at`, for the model's excerpt. */
function excerptAround(norm: Normalised, at: number): [number, number] {
  if (norm.text.length === 0) return [0, 0];
  const a = Math.max(0, Math.min(at < 0 ? 0 : at, norm.text.length - 1));
  const b = Math.min(norm.text.length - 1, a + 60);
  return [norm.from[Math.max(0, a - 20)]!, norm.to[b]!];
}

function verdict(
  raws: Raw[],
  text: string,
  indirect: boolean,
  truncated: boolean,
  opts: Required<DetectOptions>,
): InjectionVerdict {
  // One signal per rule: its strongest reading. Combined as independent evidence (noisy-or).
  const best = new Map<string, Raw>();
  for (const raw of raws) {
    const seen = best.get(raw.rule.id);
    // On a tie, the reading that had to be decoded says more (the text hid it).
    if (seen === undefined || raw.score > seen.score || (raw.score === seen.score && seen.via === 'text'))
      best.set(raw.rule.id, raw);
  }
  // Signals too weak to matter (under half the suspicious threshold) are neither scored nor reported.
  const ranked = [...best.values()]
    .filter((raw) => raw.score >= opts.suspiciousThreshold / 2)
    .sort((a, b) => b.score - a.score);
  let none = 1;
  for (const raw of ranked) none *= 1 - Math.min(1, Math.max(0, raw.score));
  const score = round(1 - none);
  const label: VerdictLabel =
    score >= opts.attackThreshold ? 'attack' : score >= opts.suspiciousThreshold ? 'suspicious' : 'benign';
  const frameworks: Frameworks = { owaspLlm: [], owaspAgentic: [], atlas: [] };
  const signals: DetectionSignal[] = [];
  // Redaction runs once per verdict with signals, over the stretches the excerpts come from with a margin (merged
  // where they overlap), so a secret cut by an excerpt's edge is still recognised whole; each excerpt is redacted
  // again on its own, which catches what the cut leaves of a secret longer than the margin.
  const reported = ranked.slice(0, opts.maxSignals);
  const sensitive = reported.length === 0 ? [] : sensitiveAround(text, reported, opts.maxExcerpt);
  for (const raw of reported) {
    const { rule } = raw;
    addOnce(frameworks.owaspLlm, rule.owaspLlm);
    if (rule.owaspAgentic) addOnce(frameworks.owaspAgentic, rule.owaspAgentic);
    addOnce(frameworks.atlas, indirect ? rule.atlasIndirect : rule.atlas);
    signals.push({
      id: rule.id,
      kind: rule.kind,
      severity: rule.severity,
      score: round(raw.score),
      excerpt: excerpt(text, raw.start, raw.end, opts.maxExcerpt, sensitive),
      offsets: [raw.start, raw.end],
      via: raw.via,
    });
  }
  return { score, label, signals, frameworks, truncated, scannedBytes: Buffer.byteLength(text) };
}

function addOnce(list: string[], value: string): void {
  if (!list.includes(value)) list.push(value);
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

/** Characters around the excerpts searched for PII and secrets. */
const REDACT_MARGIN = 128;

/** PII and secrets (findSensitive) in the stretches around the signals' excerpts, in order, offsets in `text`. */
function sensitiveAround(text: string, raws: readonly Raw[], maxExcerpt: number): ReturnType<typeof findSensitive> {
  // The stretch excerpt() reads for each signal, widened by the margin.
  const windows = raws
    .map((raw): [number, number] => {
      const from = Math.max(0, raw.start - 16);
      const to = Math.min(text.length, Math.max(raw.end, raw.start + 1) + 16, from + maxExcerpt * 2);
      return [Math.max(0, from - REDACT_MARGIN), Math.min(text.length, to + REDACT_MARGIN)];
    })
    .sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const w of windows) {
    const last = merged[merged.length - 1];
    if (last !== undefined && w[0] <= last[1]) last[1] = Math.max(last[1], w[1]);
    else merged.push(w);
  }
  return merged.flatMap(([a, b]) =>
    findSensitive(text.slice(a, b)).map((f) => ({ ...f, start: f.start + a, end: f.end + a })),
  );
}

/**
 * The matched stretch with a little context, with every PII and secret that
 * overlaps it replaced by its placeholder (core's redaction, which sees through
 * encodings; `found` is its findings over the whole text, so a secret cut by the
 * excerpt's edge is still masked whole), cut to `max` characters; invisible and
 * tag characters are dropped so the excerpt shows what a reader would see.
 */
export function excerpt(text: string, start: number, end: number, max: number, found = findSensitive(text)): string {
  const from = Math.max(0, start - 16);
  const to = Math.min(text.length, Math.max(end, start + 1) + 16, from + max * 2);
  let out = '';
  let at = from;
  for (const finding of found) {
    if (finding.end <= at) continue;
    if (finding.start >= to) break;
    out += text.slice(at, Math.max(at, finding.start)) + placeholder(finding.kind);
    at = finding.end;
  }
  if (at < to) out += text.slice(at, to);
  // Redacted again on its own: what the cut leaves of a secret longer than the margin still reads as one.
  const flat = redact(out)
    .text.replace(/[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]|\udb40[\udc00-\udc7f]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}
