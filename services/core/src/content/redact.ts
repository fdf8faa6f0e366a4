import { decodedViews, originalRange, type View } from './decode.ts';
import { textFeatures } from './prefilter.ts';
import { placeholder, REDACTION_RULES, type RedactionKind, type RedactionRule } from './redaction-rules.ts';

export interface Redaction {
  /** The text with every finding replaced by its placeholder, e.g. `[EMAIL]`, `[SECRET:aws_access_key]`. */
  text: string;
  /** The kinds found, each once, in the order they were found. */
  kinds: RedactionKind[];
}

/** A stretch of the original text that holds PII or a secret, however it was encoded there. */
export interface Finding {
  /** Offsets in the original text, [start, end). */
  start: number;
  end: number;
  kind: RedactionKind;
  /** The matched text as decoded (`a@b.io` for `a%40b.io`): what a pseudonym is computed from. */
  value: string;
  /** How the text was read when it matched: `text`, or the encodings undone (`json`, `json+url`, `html`, ...). */
  via: string;
}

/**
 * Masks PII and secrets, in the text as it is and in each decoded view of it
 * (JSON escapes, JSON in JSON, percent-encoding, HTML references, invisible
 * characters: see decode.ts). A match in a view masks the stretch of the
 * original it was decoded from, so the stored text keeps its own encoding and
 * nothing of the secret, in any encoding, survives.
 */
export function redact(text: string): Redaction {
  const found = collect(text);
  const kinds = new Set<RedactionKind>();
  for (const finding of found) kinds.add(finding.kind);
  return { text: replaceFindings(text, merge(found), (finding) => placeholder(finding.kind)), kinds: [...kinds] };
}

/** The text with each finding (sorted, not overlapping, as findSensitive returns them) replaced. */
export function replaceFindings(
  text: string,
  findings: readonly Finding[],
  replace: (finding: Finding) => string,
): string {
  if (findings.length === 0) return text;
  const out: string[] = [];
  let kept = 0;
  for (const finding of findings) {
    out.push(text.slice(kept, finding.start), replace(finding));
    kept = finding.end;
  }
  out.push(text.slice(kept));
  return out.join('');
}

/**
 * Every stretch of `text` holding PII or a secret, sorted and not overlapping.
 * In each view the rules run one after another, each over the stretches earlier
 * rules (and earlier views) left unmasked, so nothing is matched twice and a
 * match never spans a masked stretch. Each rule is one linear scan per view,
 * and there are at most MAX_DECODE_DEPTH + 2 views, so the whole stays linear.
 */
export function findSensitive(text: string): Finding[] {
  return merge(collect(text));
}

/** The findings in the order the views and rules found them; they may overlap across views. */
function collect(text: string): Finding[] {
  const found: Finding[] = [];
  for (const view of decodedViews(text)) {
    // A rule whose necessary condition the view fails cannot match any stretch of it (prefilter.ts).
    const features = textFeatures(view.text);
    let pieces: Piece[] | null = null;
    for (const rule of REDACTION_RULES) {
      if (!rule.needs(features)) continue;
      pieces ??= openPieces(view.text, maskedUnits(view, found));
      // A match ends where the next could begin only behind a lookbehind that now sees its tail
      // (`a@x.com.@x.com`): run the rule again over what it left, a bounded number of times.
      for (let pass = 0; pass < MAX_PASSES && pieces.length > 0; pass++) {
        const next: Piece[] = [];
        let count = 0;
        for (const piece of pieces) count += applyRule(view, piece, rule, next, found);
        pieces = next;
        if (count === 0) break;
      }
    }
  }
  return found;
}

/** Passes of one rule at most; each is linear, so the whole stays linear. */
const MAX_PASSES = 4;

/** A stretch of a view still open to the rules: its text and where it starts in the view. */
interface Piece {
  text: string;
  offset: number;
}

/** Which units of the view come from an already masked stretch of the original. */
function maskedUnits(view: View, found: readonly Finding[]): Uint8Array | null {
  if (found.length === 0) return null;
  const sorted = [...found].sort((a, b) => a.start - b.start);
  const masked = new Uint8Array(view.text.length);
  let f = 0;
  for (let i = 0; i < view.text.length; i++) {
    const [start, end] = originalRange(view, i, i + 1);
    while (f < sorted.length && sorted[f]!.end <= start) f++;
    // Findings may overlap one another; look at the few that start before this unit ends.
    for (let g = f; g < sorted.length && sorted[g]!.start < end; g++) {
      if (sorted[g]!.end > start) {
        masked[i] = 1;
        break;
      }
    }
  }
  return masked;
}

function openPieces(text: string, masked: Uint8Array | null): Piece[] {
  if (masked === null) return [{ text, offset: 0 }];
  const pieces: Piece[] = [];
  let start = -1;
  for (let i = 0; i <= text.length; i++) {
    const open = i < text.length && masked[i] === 0;
    if (open && start < 0) start = i;
    else if (!open && start >= 0) {
      pieces.push({ text: text.slice(start, i), offset: start });
      start = -1;
    }
  }
  return pieces;
}

/** Splits the piece around the rule's matches into `out`, records them in `found`; returns how many it masked. */
function applyRule(view: View, piece: Piece, rule: RedactionRule, out: Piece[], found: Finding[]): number {
  const { text, offset } = piece;
  // Most texts match no rule: a plain test() scans without matchAll's copy of the regex and its iterator.
  rule.pattern.lastIndex = 0;
  const hit = rule.pattern.test(text);
  rule.pattern.lastIndex = 0;
  if (!hit) {
    out.push(piece);
    return 0;
  }
  let kept = 0;
  let count = 0;
  for (const match of text.matchAll(rule.pattern)) {
    for (const mask of rule.mask(match)) {
      const start = match.index + mask.start;
      const end = match.index + mask.end;
      if (start < kept || end <= start) continue;
      if (start > kept) out.push({ text: text.slice(kept, start), offset: offset + kept });
      const [from, to] = originalRange(view, offset + start, offset + end);
      found.push({ start: from, end: to, kind: mask.kind, value: text.slice(start, end), via: view.via ?? 'text' });
      count++;
      kept = end;
    }
  }
  if (kept < text.length) out.push({ text: text.slice(kept), offset: offset + kept });
  return count;
}

/** Sorted by start; a finding overlapping an earlier one is merged into it (the earlier kind wins). */
function merge(found: Finding[]): Finding[] {
  if (found.length <= 1) return found;
  const sorted = found
    .map((finding, order) => ({ finding, order }))
    .sort((a, b) => a.finding.start - b.finding.start || a.order - b.order)
    .map(({ finding }) => finding);
  const merged: Finding[] = [];
  for (const finding of sorted) {
    const last = merged.at(-1);
    if (last !== undefined && finding.start < last.end) {
      if (finding.end > last.end) merged[merged.length - 1] = { ...last, end: finding.end };
    } else merged.push({ ...finding });
  }
  return merged;
}
