import { looksLikeCardNumber, passesIbanCheck, passesLuhn } from './checksums.ts';
import {
  CHAR_AT,
  CHAR_BLANK,
  CHAR_COLON,
  CHAR_DOT,
  CHAR_EQUALS,
  CHAR_PLUS,
  hasAny,
  type TextFeatures,
} from './prefilter.ts';

export const PII_KINDS = ['email', 'phone', 'credit_card', 'iban', 'us_ssn', 'ipv4'] as const;
export const SECRET_KINDS = [
  'private_key',
  'jwt',
  'anthropic_api_key',
  'openai_api_key',
  'aws_access_key',
  'aws_secret_key',
  'github_token',
  'gitlab_token',
  'slack_token',
  'slack_webhook',
  'discord_token',
  'discord_webhook',
  'telegram_token',
  'google_api_key',
  'azure_key',
  'stripe_key',
  'groq_api_key',
  'huggingface_token',
  'replicate_token',
  'ai_api_key',
  'api_token',
  'bearer_token',
  'basic_auth',
  'connection_string',
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
  /**
   * A necessary condition for the pattern to match with a non-empty mask: false
   * only for texts where it cannot (a literal, character or run it requires is
   * missing), so the rule is skipped without running (prefilter.ts).
   */
  needs: (text: TextFeatures) => boolean;
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

/** Separators allowed between the groups of an IBAN. */
const IBAN_SEPARATORS = new Set([' ', '.', '-']);

/** The longest prefix, ending at a group boundary, that is a valid IBAN (a trailing word may have been taken along). */
function iban(match: RegExpExecArray): Mask[] {
  const text = match[0];
  const ends: number[] = [];
  let compact = '';
  for (let i = 0; i < text.length; i++) {
    if (IBAN_SEPARATORS.has(text[i]!)) continue;
    compact += text[i]!.toUpperCase();
    if (i + 1 === text.length || IBAN_SEPARATORS.has(text[i + 1]!)) ends[compact.length] = i + 1;
  }
  for (let length = compact.length; length >= 15; length--) {
    const end = ends[length];
    if (end !== undefined && length <= 34 && passesIbanCheck(compact.slice(0, length))) {
      return [{ start: 0, end, kind: 'iban' }];
    }
  }
  return [];
}

/** The whole match, when it holds between `min` and `max` digits (phone numbers). */
const digitCount =
  (kind: RedactionKind, min: number, max: number) =>
  (match: RegExpExecArray): Mask[] => {
    const digits = match[0].replace(/\D/g, '').length;
    return digits >= min && digits <= max ? [{ start: 0, end: match[0].length, kind }] : [];
  };

/** Shannon entropy of the text, in bits per character. */
export function entropy(text: string): number {
  const counts = new Map<string, number>();
  for (const char of text) counts.set(char, (counts.get(char) ?? 0) + 1);
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / text.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/** Up to 96 characters before the match, for rules that name the provider from the context. */
const before = (match: RegExpExecArray): string => match.input.slice(Math.max(0, match.index - 96), match.index);

/**
 * A 40-character base64-ish token, the shape of an AWS secret access key (and of
 * Cohere keys): mixed case with a digit, random-looking (at least 4 bits of
 * entropy per character) and not a path. Git hashes are hex and never match.
 */
function fortyCharKey(match: RegExpExecArray): Mask[] {
  const token = match[0];
  const random =
    /[a-z]/.test(token) &&
    /[A-Z]/.test(token) &&
    /\d/.test(token) &&
    (token.match(/\//g)?.length ?? 0) <= 3 &&
    entropy(token) >= 4;
  if (!random) return [];
  const context = before(match);
  const kind = /aws|amazon|akia|asia|secret.?access/i.test(context)
    ? 'aws_secret_key'
    : /cohere|mistral/i.test(context)
      ? 'ai_api_key'
      : 'credential';
  return [{ start: 0, end: token.length, kind }];
}

/** The providers namedProviderKey looks for before a key (lower case). */
const NAMED_PROVIDERS = ['mistral', 'cohere', 'together', 'deepseek', 'perplexity', 'fireworks', 'voyage', 'jina'];

/** A 32-character key of a provider without a prefix of its own (Mistral, Cohere trial keys), named just before it. */
function namedProviderKey(match: RegExpExecArray): Mask[] {
  const token = match[0];
  if (!/[a-z]/.test(token) || !/[A-Z]/.test(token) || !/\d/.test(token)) return [];
  return /mistral|cohere|together|deepseek|perplexity|fireworks|voyage|jina/i.test(before(match))
    ? [{ start: 0, end: token.length, kind: 'ai_api_key' }]
    : [];
}

/** `Basic <base64>` only when the base64 reads as printable `user:password`. */
function basicCredentials(match: RegExpExecArray): Mask[] {
  const range = match.indices?.[1];
  const value = match[1];
  if (!range || value === undefined) return [];
  const decoded = Buffer.from(value, 'base64').toString('latin1');
  if (!decoded.includes(':') || !/^[\x20-\x7e]+$/.test(decoded)) return [];
  return [{ start: range[0] - match.index, end: range[1] - match.index, kind: 'basic_auth' }];
}

/** A value in `password is X` prose: not a lowercase word (prose), unless long like a passphrase. */
function prosePassword(match: RegExpExecArray): Mask[] {
  const range = match.indices?.[1];
  const value = match[1];
  if (!range || value === undefined) return [];
  if (/^[a-z]{1,11}$/.test(value)) return [];
  return [{ start: range[0] - match.index, end: range[1] - match.index, kind: 'password' }];
}

/** The start of an IBAN-shaped run (`DE89 3704 `): digits after it are that account, not a phone number. */
const IBAN_START = /[A-Za-z]{2}\d{2}(?:[ .-]?[A-Za-z0-9]{4}){0,7}[ .-]?$/;

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';

/** Prefixed tokens of other platforms: package registries, clouds, SaaS APIs (one alternation, each branch led by a literal). */
const PLATFORM_TOKEN = new RegExp(
  '(?<![\\w.-])(?:' +
    [
      'npm_[A-Za-z0-9]{36}',
      'pypi-AgE[\\w-]{50,1024}',
      'dop_v1_[a-f0-9]{64}',
      'hv[sb]\\.[\\w-]{24,512}',
      'sbp_[a-f0-9]{40}',
      'lin_api_[A-Za-z0-9]{40}',
      'PMAK-[a-f0-9]{24}-[a-f0-9]{34}',
      'SG\\.[\\w-]{22}\\.[\\w-]{43}',
      'shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}',
      'glsa_[A-Za-z0-9]{32}_[a-fA-F0-9]{8}',
      'glc_[A-Za-z0-9+/]{32,400}={0,2}',
      'sntry[su]_[\\w+/=]{40,512}',
      'NRAK-[A-Z0-9]{27}',
      'dp\\.(?:pt|st|ct|sa|scim|audit)\\.[A-Za-z0-9]{40,44}',
      'ntn_[A-Za-z0-9]{40,64}',
      'ATATT3[\\w=-]{100,512}',
      'key-[0-9a-f]{32}',
      'SK[0-9a-f]{32}',
      'EAA[A-Za-z0-9]{90,400}',
      'ya29\\.[\\w-]{20,2048}',
      'GOCSPX-[\\w-]{28}',
    ].join('|') +
    ')(?![\\w-])',
  'g',
);

/** Applied in order; earlier (more specific) rules claim text first and later rules never see a placeholder. */
export const REDACTION_RULES: readonly RedactionRule[] = [
  {
    // A key cut off before its END line is masked to the end of the text.
    pattern:
      /-----BEGIN[A-Z ]{0,64}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[A-Z ]{0,64}PRIVATE KEY(?: BLOCK)?-----|$)/gi,
    mask: whole('private_key'),
    // -----BEGIN, PRIVATE KEY (a space) and -----.
    needs: (t) => t.length >= 26 && (t.chars & CHAR_BLANK) !== 0 && t.lower().includes('-----begin'),
  },
  {
    pattern: /(?<![\w-])eyJ[\w-]{5,8192}\.eyJ[\w-]{5,65536}\.[\w-]{0,8192}/g,
    mask: whole('jwt'),
    needs: (t) => t.length >= 18 && t.wordRun >= 8 && (t.chars & CHAR_DOT) !== 0 && t.text.includes('eyJ'),
  },
  {
    // scheme://user:password@host: the password is masked (postgres, mysql, mongodb+srv, redis, amqp, jdbc:...).
    pattern:
      /(?<![\w+.-])[A-Za-z][A-Za-z0-9+.-]{1,31}:\/\/[^\s:/?#@"'<>[\]]{0,128}:([^\s/?#@"'<>[\]][^\s/?#@"'<>]{0,255})@/dg,
    mask: firstGroup(() => 'connection_string'),
    needs: (t) => (t.chars & CHAR_AT) !== 0 && t.text.includes('://'),
  },
  {
    pattern: /hooks\.slack\.com\/((?:services|workflows|triggers)\/[\w/-]{8,256})/dgi,
    mask: firstGroup(() => 'slack_webhook'),
    needs: (t) => t.length >= 33 && (t.chars & CHAR_DOT) !== 0 && t.lower().includes('hooks.slack.com'),
  },
  {
    pattern: /discord(?:app)?\.com\/api\/webhooks\/(\d{5,30}\/[\w-]{20,256})/dgi,
    mask: firstGroup(() => 'discord_webhook'),
    needs: (t) => t.length >= 51 && t.digitRun >= 5 && t.lower().includes('discord'),
  },
  {
    pattern: /(?<![\w-])sk-ant-[\w-]{32,512}/g,
    mask: whole('anthropic_api_key'),
    needs: (t) => t.wordRun >= 39 && t.text.includes('sk-ant-'),
  },
  {
    pattern: /(?<![\w-])sk-[\w-]{32,512}/g,
    mask: whole('openai_api_key'),
    needs: (t) => t.wordRun >= 35 && t.text.includes('sk-'),
  },
  {
    pattern: /(?<![\w-])gsk_[A-Za-z0-9]{20,128}(?![\w-])/g,
    mask: whole('groq_api_key'),
    needs: (t) => t.wordRun >= 24 && t.text.includes('gsk_'),
  },
  {
    pattern:
      /(?<![\w-])(?:pplx-[A-Za-z0-9]{32,64}|xai-[A-Za-z0-9]{32,128}|fw_[A-Za-z0-9]{20,64}|lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}|pcsk_[\w]{40,128}|nvapi-[\w-]{40,128}|tgp_v1_[\w-]{32,128})(?![\w-])/g,
    mask: whole('ai_api_key'),
    // Every branch is one run of [\w-] of at least 23 (fw_ and 20).
    needs: (t) => t.wordRun >= 23,
  },
  {
    pattern: /(?<![\w-])(?:hf_[A-Za-z0-9]{30,64}|api_org_[A-Za-z0-9]{30,64})(?![\w-])/g,
    mask: whole('huggingface_token'),
    needs: (t) => t.wordRun >= 33 && hasAny(t.text, ['hf_', 'api_org_']),
  },
  {
    pattern: /(?<![\w-])r8_[A-Za-z0-9]{20,64}(?![\w-])/g,
    mask: whole('replicate_token'),
    needs: (t) => t.wordRun >= 23 && t.text.includes('r8_'),
  },
  {
    pattern:
      /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z0-9]{16}(?![A-Za-z0-9])/g,
    mask: whole('aws_access_key'),
    needs: (t) => t.alnumRun >= 20,
  },
  {
    pattern: /(?<!\w)(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_\w{22,255})(?!\w)/g,
    mask: whole('github_token'),
    needs: (t) => t.wordRun >= 33,
  },
  {
    pattern: /(?<![\w-])gl(?:pat|dt|rt|ptt|ft|soat|cbt|oas|imt)-[\w-]{20,128}/g,
    mask: whole('gitlab_token'),
    needs: (t) => t.wordRun >= 25 && t.text.includes('gl'),
  },
  {
    pattern: /(?<![\w-])(?:xox[abposer]|xapp)-[A-Za-z0-9-]{10,250}/g,
    mask: whole('slack_token'),
    needs: (t) => t.wordRun >= 15 && hasAny(t.text, ['xox', 'xapp-']),
  },
  {
    pattern: /(?<![\w.-])[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,40}(?![\w.-])/g,
    mask: whole('discord_token'),
    needs: (t) => t.length >= 59 && t.wordRun >= 27 && (t.chars & CHAR_DOT) !== 0,
  },
  {
    pattern: /(?<![\w:])\d{8,10}:[A-Za-z0-9_-]{35}(?![\w-])/g,
    mask: whole('telegram_token'),
    needs: (t) => t.digitRun >= 8 && t.wordRun >= 35 && (t.chars & CHAR_COLON) !== 0,
  },
  {
    pattern: /(?<![\w-])AIza[\w-]{35}(?![\w-])/g,
    mask: whole('google_api_key'),
    needs: (t) => t.wordRun >= 39 && t.text.includes('AIza'),
  },
  {
    pattern: PLATFORM_TOKEN,
    mask: whole('api_token'),
    // The shortest match is ya29. and 20; each branch is a run of [\w-] of at least 20 but those
    // whose body may hold + / or =.
    needs: (t) => t.length >= 25 && (t.wordRun >= 20 || hasAny(t.text, ['glc_', 'sntry', 'ATATT3'])),
  },
  {
    // Azure storage / service bus connection strings and SAS tokens: only the value is masked.
    pattern:
      /(?<![\w-])(?:AccountKey|SharedAccessKey|SharedAccessSignature|sig)[ \t]{0,4}=[ \t]{0,4}([^\s;&"'<>[\]][^\s;&"'<>]{7,1023})/dgi,
    mask: firstGroup(() => 'azure_key'),
    needs: (t) => (t.chars & CHAR_EQUALS) !== 0 && hasAny(t.lower(), ['accountkey', 'sharedaccesskey', 'sig']),
  },
  {
    pattern: /(?<!\w)(?:[srp]k_(?:live|test)_[A-Za-z0-9]{16,247}|whsec_[A-Za-z0-9+/]{24,128})/g,
    mask: whole('stripe_key'),
    needs: (t) => t.length >= 24 && hasAny(t.text, ['k_live_', 'k_test_', 'whsec_']),
  },
  {
    // The value of an Authorization header, whatever its scheme.
    pattern:
      /(?<![\w-])(?:proxy-)?authorization["']?[ \t]{0,8}[:=][ \t]{0,8}["']?(?:(bearer|basic|token|digest|negotiate|ntlm|apikey|sso-key|key|otp)[ \t]{1,8})?(?!(?:bearer|basic|token|digest|negotiate|ntlm)(?:\s|$))([^\s"',;[\]][^\s"',;]{5,4095})/dgi,
    mask: (match) => {
      const range = match.indices?.[2];
      if (!range) return [];
      const kind = match[1]?.toLowerCase() === 'basic' ? 'basic_auth' : 'bearer_token';
      return [{ start: range[0] - match.index, end: range[1] - match.index, kind }];
    },
    needs: (t) => (t.chars & (CHAR_COLON | CHAR_EQUALS)) !== 0 && t.lower().includes('authorization'),
  },
  {
    // Only the token is masked; a token has a digit, which keeps prose ("bearer of ...") out.
    pattern: /\bbearer[ \t]{1,16}(?=[\w~+/.-]{0,4096}\d)([\w~+/.-]{16,4096}={0,2})/dgi,
    mask: firstGroup(() => 'bearer_token'),
    needs: (t) => t.digits > 0 && (t.chars & CHAR_BLANK) !== 0 && t.lower().includes('bearer'),
  },
  {
    pattern: /\bbasic[ \t]{1,16}([A-Za-z0-9+/]{8,4096}={0,2})(?![\w+/=])/dgi,
    mask: basicCredentials,
    needs: (t) => (t.chars & CHAR_BLANK) !== 0 && t.lower().includes('basic'),
  },
  {
    // `key=value`, `key: value` and JSON `"key": "value"`; the key stays, the value is masked.
    // Neither key nor value may start at `[`, so placeholders from an earlier pass stay as they are.
    pattern:
      /(?<![\w.[-])[\w.-]{0,64}?(?:password|passwd|passphrase|passcode|pwd|[_.-]pass|secret|token|api[_-]?key|access[_-]?key|private[_-]?key(?:[_-]?id)?|account[_-]?key|auth[_-]?token|client[_-]?secret|signing[_-]?key|encryption[_-]?key|master[_-]?key|session[_-]?key)["']?[ \t]{0,8}[:=][ \t]{0,8}(?!["']?\[(?:SECRET:[a-z_]{1,32}|[A-Z0-9_]{1,32}(?::[0-9a-f]{16})?)\])(?:"((?:[^"\\\n]|\\.){1,512})"|'([^'\n]{1,512})'|([^\s"',;&}\][][^\s"',;&}\]]{0,511}))/dgi,
    mask: firstGroup((match) =>
      /pass|pwd/i.test(match[0].slice(0, match[0].search(/[:=]/))) ? 'password' : 'credential',
    ),
    // Each key name holds one of these (auth_token a token, client_secret a secret, every *_key a key).
    needs: (t) =>
      (t.chars & (CHAR_COLON | CHAR_EQUALS)) !== 0 && hasAny(t.lower(), ['pass', 'pwd', 'secret', 'token', 'key']),
  },
  {
    pattern:
      /\b(?:password|passphrase|passcode)[ \t]{1,8}(?:is|was)[ \t:]{1,8}["'`]?([^\s"'`,;[\]][^\s"'`,;]{2,511})/dgi,
    mask: prosePassword,
    needs: (t) => (t.chars & CHAR_BLANK) !== 0 && t.lower().includes('pass'),
  },
  {
    // fortyCharKey wants a digit.
    pattern: /(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g,
    mask: fortyCharKey,
    needs: (t) => t.base64Run >= 40 && t.digits > 0,
  },
  {
    // namedProviderKey wants a digit, and a provider named before the key (in the same text).
    pattern: /(?<![A-Za-z0-9_-])[A-Za-z0-9]{32}(?![A-Za-z0-9_-])/g,
    mask: namedProviderKey,
    needs: (t) => t.alnumRun >= 32 && t.digits > 0 && hasAny(t.lower(), NAMED_PROVIDERS),
  },
  {
    pattern: /(?<![\w.%+-])[\w.%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,63}/g,
    mask: whole('email'),
    needs: (t) => (t.chars & (CHAR_AT | CHAR_DOT)) === (CHAR_AT | CHAR_DOT),
  },
  {
    pattern: /(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ .-]?[A-Za-z0-9]{4}){2,7}(?:[ .-]?[A-Za-z0-9]{1,4})?(?![A-Za-z0-9])/g,
    mask: iban,
    // iban() wants at least 15 letters and digits, two of them digits.
    needs: (t) => t.length >= 15 && t.digits >= 2,
  },
  {
    // After a + the digits are a phone number, however Luhn reads them.
    pattern: /(?<![\d+-])\d{1,19}(?:[ .\u00a0-]\d{1,19}){0,63}(?!\d)/g,
    mask: cardNumbers,
    // A match is digits and [ .\u00a0-] only, and cardNumbers wants 13 digits of it.
    needs: (t) => t.groupedDigits >= 13,
  },
  {
    pattern: /(?<![\d-])(?!000|666|9\d\d)\d{3}([- .])(?!00)\d{2}\1(?!0000)\d{4}(?![\d-])/g,
    mask: whole('us_ssn'),
    needs: (t) => t.groupedDigits >= 9,
  },
  {
    pattern: /\b(?:ssn|social[ _-]?security(?:[ _-]?(?:no|num|number|#))?)\b[^\d\n]{0,16}(\d{9})(?!\d)/dgi,
    mask: firstGroup(() => 'us_ssn'),
    needs: (t) => t.digitRun >= 9 && hasAny(t.lower(), ['ssn', 'social']),
  },
  {
    pattern: new RegExp(`(?<![\\d.])(?:${OCTET}\\.){3}${OCTET}(?!\\.?\\d)`, 'g'),
    mask: whole('ipv4'),
    needs: (t) => t.digits >= 4 && (t.chars & CHAR_DOT) !== 0,
  },
  {
    // International numbers start with + or 00 (a (0) trunk digit may follow the country code); at most 15 digits.
    pattern:
      /(?<![\w+])(?:\+|(?<![\w.-])00)[1-9]\d{0,2}(?:[ .\-/]?\(\d{1,4}\))?[ .\-/]?\d{1,14}(?:[ .\-/]?\(\d{1,4}\))?(?:[ .\-/]\d{1,14}){0,7}(?!\d)/g,
    mask: (match) => (IBAN_START.test(before(match)) ? [] : digitCount('phone', 8, 17)(match)),
    needs: (t) => t.digits >= 8 && ((t.chars & CHAR_PLUS) !== 0 || t.text.includes('00')),
  },
  {
    // National numbers with a trunk 0 (020 7946 0958, 030/123456, 01 23 45 67 89): 9 to 12 digits in groups.
    pattern: /(?<![\w+.:-])\(?0[1-9]\d{0,3}\)?(?:[ \-/]\d{2,8}){1,5}(?![\w-]|[.:]\d)/g,
    mask: (match) => (IBAN_START.test(before(match)) ? [] : digitCount('phone', 9, 12)(match)),
    needs: (t) => t.digits >= 9,
  },
  {
    // US shapes: (415) 555-0100 / 415-555-0100 / 415.555.0100.
    pattern: /(?<![\w(+-])(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w-])/g,
    mask: whole('phone'),
    // Its last seven digits are in one stretch of digits and [ .-].
    needs: (t) => t.digits >= 10 && t.groupedDigits >= 7,
  },
];

export function placeholder(kind: RedactionKind): string {
  return (PII_KINDS as readonly string[]).includes(kind) ? `[${kind.toUpperCase()}]` : `[SECRET:${kind}]`;
}
