import { placeholder, REDACTION_RULES, type RedactionKind, type RedactionRule } from './redaction-rules.ts';

export interface Redaction {
  /** The text with every finding replaced by its placeholder, e.g. `[EMAIL]`, `[SECRET:aws_access_key]`. */
  text: string;
  /** The kinds found, each once, in the order the rules run. */
  kinds: RedactionKind[];
}

/** A stretch of the text: either still open to the next rules, or a placeholder no later rule may touch. */
interface Piece {
  text: string;
  masked: boolean;
}

/**
 * Masks PII and secrets. Rules run one after another, each over the stretches
 * earlier rules left unmasked, so a placeholder is never re-matched (the
 * `SECRET:` in `[SECRET:jwt]` must not read as a `secret:` assignment). Each
 * rule is one linear scan, so the whole is linear in the length of the text.
 */
export function redact(text: string): Redaction {
  let pieces: Piece[] = [{ text, masked: false }];
  const kinds = new Set<RedactionKind>();
  for (const rule of REDACTION_RULES) {
    // A match ends where the next could begin only behind a lookbehind that now sees its tail
    // (`a@x.com.@x.com`): run the rule again over what it left, a bounded number of times.
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      const next: Piece[] = [];
      let masked = 0;
      for (const piece of pieces) {
        if (piece.masked) next.push(piece);
        else masked += applyRule(piece.text, rule, next, kinds);
      }
      pieces = next;
      if (masked === 0) break;
    }
  }
  return { text: pieces.map((piece) => piece.text).join(''), kinds: [...kinds] };
}

/** Passes of one rule at most; each is linear, so the whole stays linear. */
const MAX_PASSES = 4;

/** Splits `text` into pieces around the rule's matches; returns how many it masked. */
function applyRule(text: string, rule: RedactionRule, out: Piece[], kinds: Set<RedactionKind>): number {
  // Most texts match no rule: a plain test() scans without matchAll's copy of the regex and its iterator.
  rule.pattern.lastIndex = 0;
  const found = rule.pattern.test(text);
  rule.pattern.lastIndex = 0;
  if (!found) {
    out.push({ text, masked: false });
    return 0;
  }
  let kept = 0;
  let masked = 0;
  for (const match of text.matchAll(rule.pattern)) {
    for (const mask of rule.mask(match)) {
      const start = match.index + mask.start;
      if (start > kept) out.push({ text: text.slice(kept, start), masked: false });
      out.push({ text: placeholder(mask.kind), masked: true });
      kinds.add(mask.kind);
      masked++;
      kept = match.index + mask.end;
    }
  }
  if (kept < text.length) out.push({ text: text.slice(kept), masked: false });
  return masked;
}
