import { looksLikeCardNumber, passesIbanCheck, passesLuhn } from './checksums.ts';

export const PII_KINDS = ['email', 'phone', 'credit_card', 'iban', 'us_ssn', 'ipv4'] as const;
export const SECRET_KINDS = [
  'private_key',
  'jwt',
  'anthropic_api_key',
  'openai_api_key',
  'aws_access_key',
  'github_token',
  'slack_token',
  'google_api_key',
  'stripe_key',
  'bearer_token',
  'password',
  'credential',
] as const;
export type RedactionKind = (typeof PII_KINDS)[number] | (typeof SECRET_KINDS)[number];

/** A range to mask, relative to the start of the match. */
export interface Mask {
  start: number;
  end: number;
  kind: RedactionKind;
}

export interface RedactionRule {
  /** A global pattern. Each must stay linear on any input: see the note below. */
  pattern: RegExp;
  /** What to mask in one match; empty when the candidate fails its check (Luhn, mod 97, ...). */
  mask: (match: RegExpExecArray) => Mask[];
}

/*
 * Linear time: JavaScript regular expressions backtrack, so every pattern here
 * starts at a literal or behind a lookbehind that forbids starting inside a run
 * of its own characters (a failed attempt is then not retried one character
 * later), and its repetitions are bounded or separated by a delimiter they
 * cannot consume. redact.test.ts times the rules on 1 MB adversarial inputs.
 */

const whole =
  (kind: RedactionKind) =>
  (match: RegExpExecArray): Mask[] => [{ start: 0, end: match[0].length, kind }];

/** Masks the first capture group that took part in the match (patterns use the `d` flag for its offsets). */
const firstGroup =
  (kind: (match: RegExpExecArray) => RedactionKind) =>
  (match: RegExpExecArray): Mask[] => {
    const groups = match.indices ?? [];
    for (let i = 1; i < groups.length; i++) {
      const range = groups[i];
      if (range) return [{ start: range[0] - match.index, end: range[1] - match.index, kind: kind(match) }];
    }
    return [];
  };

/** Within a run of digit groups, the leftmost longest windows of 13-19 digits that are card numbers. */
function cardNumbers(match: RegExpExecArray): Mask[] {
  const groups = [...match[0].matchAll(/\d+/g)];
  const masks: Mask[] = [];
  let i = 0;
  while (i < groups.length) {
    let digits = '';
    let taken = 0;
    let end = 0;
    // A card has at most 19 digits, so at most 19 groups.
    for (const [count, group] of groups.slice(i, i + 19).entries()) {
      digits += group[0];
      if (digits.length > 19) break;
      if (digits.length >= 13 && looksLikeCardNumber(digits) && passesLuhn(digits)) {
        taken = count + 1;
        end = group.index + group[0].length;
      }
    }
    if (taken > 0) masks.push({ start: groups[i]?.index ?? 0, end, kind: 'credit_card' });
    i += Math.max(taken, 1);
  }
  return masks;
}

/** The longest prefix, ending at a group boundary, that is a valid IBAN (a trailing word may have been taken along). */
function iban(match: RegExpExecArray): Mask[] {
  const text = match[0];
  const ends: number[] = [];
  let compact = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] === ' ') continue;
    compact += text[i];
    if (i + 1 === text.length || text[i + 1] === ' ') ends[compact.length] = i + 1;
  }
  for (let length = compact.length; length >= 15; length--) {
    const end = ends[length];
    if (end !== undefined && length <= 34 && passesIbanCheck(compact.slice(0, length))) {
      return [{ start: 0, end, kind: 'iban' }];
    }
  }
  return [];
}

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';

/** Applied in order; earlier (more specific) rules claim text first and later rules never see a placeholder. */
export const REDACTION_RULES: readonly RedactionRule[] = [
  {
    // A key cut off before its END line is masked to the end of the text.
    pattern:
      /-----BEGIN[A-Z ]{0,64}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[A-Z ]{0,64}PRIVATE KEY(?: BLOCK)?-----|$)/g,
    mask: whole('private_key'),
  },
  { pattern: /(?<![\w-])eyJ[\w-]{5,8192}\.eyJ[\w-]{5,65536}\.[\w-]{0,8192}/g, mask: whole('jwt') },
  { pattern: /(?<![\w-])sk-ant-[\w-]{32,512}/g, mask: whole('anthropic_api_key') },
  { pattern: /(?<![\w-])sk-[\w-]{32,512}/g, mask: whole('openai_api_key') },
  { pattern: /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])/g, mask: whole('aws_access_key') },
  { pattern: /(?<!\w)(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_\w{22,255})(?!\w)/g, mask: whole('github_token') },
  { pattern: /(?<![\w-])xox[abposer]-[A-Za-z0-9-]{10,250}/g, mask: whole('slack_token') },
  { pattern: /(?<![\w-])AIza[\w-]{35}(?![\w-])/g, mask: whole('google_api_key') },
  { pattern: /(?<!\w)[sr]k_(?:live|test)_[A-Za-z0-9]{16,247}/g, mask: whole('stripe_key') },
  {
    // Only the token is masked; a token has a digit, which keeps prose ("bearer of ...") out.
    pattern: /\b[Bb]earer[ \t]{1,16}(?=[\w~+/.-]{0,4096}\d)([\w~+/.-]{16,4096}={0,2})/dg,
    mask: firstGroup(() => 'bearer_token'),
  },
  {
    // `key=value`, `key: value` and JSON `"key": "value"`; the key stays, the value is masked.
    // Neither key nor value may start at `[`, so placeholders from an earlier pass stay as they are.
    pattern:
      /(?<![\w.[-])[\w.-]{0,64}?(?:password|passwd|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|auth[_-]?token)["']?[ \t]{0,8}[:=][ \t]{0,8}(?:"((?:[^"\\\n]|\\.){1,512})"|'([^'\n]{1,512})'|([^\s"',;&}\][][^\s"',;&}\]]{0,511}))/dgi,
    mask: firstGroup((match) => (/pass/i.test(match[0].slice(0, match[0].search(/[:=]/))) ? 'password' : 'credential')),
  },
  { pattern: /(?<![\w.%+-])[\w.%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,63}/g, mask: whole('email') },
  {
    pattern: /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![A-Za-z0-9])/g,
    mask: iban,
  },
  {
    // After a + the digits are a phone number, however Luhn reads them.
    pattern: /(?<![\d+-])\d{1,19}(?:[ -]\d{1,19}){0,63}(?!\d)/g,
    mask: cardNumbers,
  },
  { pattern: /(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])/g, mask: whole('us_ssn') },
  { pattern: new RegExp(`(?<![\\d.])(?:${OCTET}\\.){3}${OCTET}(?!\\.?\\d)`, 'g'), mask: whole('ipv4') },
  {
    // International numbers start with +; national ones need the (415) 555-0100 / 415-555-0100 shape.
    pattern:
      /(?<![\w+])\+[1-9]\d{0,2}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){2,4}(?!\w)|(?<![\w(+-])(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w-])/g,
    mask: whole('phone'),
  },
];

export function placeholder(kind: RedactionKind): string {
  return (PII_KINDS as readonly string[]).includes(kind) ? `[${kind.toUpperCase()}]` : `[SECRET:${kind}]`;
}
