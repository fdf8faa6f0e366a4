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
    const next: Piece[] = [];
    for (const piece of pieces) {
      if (piece.masked) next.push(piece);
      else applyRule(piece.text, rule, next, kinds);
    }
    pieces = next;
  }
  return { text: pieces.map((piece) => piece.text).join(''), kinds: [...kinds] };
}

function applyRule(text: string, rule: RedactionRule, out: Piece[], kinds: Set<RedactionKind>): void {
  // Most texts match no rule: a plain test() scans without matchAll's copy of the regex and its iterator.
  rule.pattern.lastIndex = 0;
  const found = rule.pattern.test(text);
  rule.pattern.lastIndex = 0;
  if (!found) {
    out.push({ text, masked: false });
    return;
  }
  let kept = 0;
  for (const match of text.matchAll(rule.pattern)) {
    for (const mask of rule.mask(match)) {
      const start = match.index + mask.start;
      if (start > kept) out.push({ text: text.slice(kept, start), masked: false });
      out.push({ text: placeholder(mask.kind), masked: true });
      kinds.add(mask.kind);
      kept = match.index + mask.end;
    }
  }
  if (kept < text.length) out.push({ text: text.slice(kept), masked: false });
}
