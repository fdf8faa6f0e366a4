import {
  looksLikeCardNumber,
  looksLikeNino,
  passesAadhaar,
  passesCodiceFiscale,
  passesCpf,
  passesDniLetter,
  passesIbanCheck,
  passesLuhn,
  passesNirKey,
  passesSin,
  passesSteuerId,
} from './checksums.ts';
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

export const PII_KINDS = [
  'email',
  'phone',
  'credit_card',
  'iban',
  'us_ssn',
  'ipv4',
  'uk_nino',
  'ca_sin',
  'fr_nir',
  'es_dni',
  'it_codice_fiscale',
  'de_tax_id',
  'br_cpf',
  'in_aadhaar',
] as const;
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
  'high_entropy_token',
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

/**
 * Whether digit groups are spelled as a card is: one run, groups of four (the
 * last may be shorter), or Amex and Diners 4-6-5 / 4-6-4. An order number
 * (302-1234567-1234567) is not a card, whatever Luhn says.
 */
function cardGrouping(lengths: readonly number[]): boolean {
  if (lengths.length === 1) return true;
  if (lengths.length === 3 && lengths[0] === 4 && lengths[1] === 6 && (lengths[2] === 5 || lengths[2] === 4))
    return true;
  return lengths.every((length, k) => (k === lengths.length - 1 ? length >= 1 && length <= 4 : length === 4));
}

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
    if (taken > 0 && cardGrouping(groups.slice(i, i + taken).map((g) => g[0].length))) {
      masks.push({ start: groups[i]?.index ?? 0, end, kind: 'credit_card' });
    }
    i += Math.max(taken, 1);
  }
  return masks;
}

/** IBAN length by country (ISO 13616 registry): a prefix of another length is no account, however mod 97 reads it. */
const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24,
  AE: 23,
  AL: 28,
  AT: 20,
  AZ: 28,
  BA: 20,
  BE: 16,
  BG: 22,
  BH: 22,
  BI: 27,
  BR: 29,
  BY: 28,
  CH: 21,
  CR: 22,
  CY: 28,
  CZ: 24,
  DE: 22,
  DJ: 27,
  DK: 18,
  DO: 28,
  EE: 20,
  EG: 29,
  ES: 24,
  FI: 18,
  FK: 18,
  FO: 18,
  FR: 27,
  GB: 22,
  GE: 22,
  GI: 23,
  GL: 18,
  GR: 27,
  GT: 28,
  HN: 28,
  HR: 21,
  HU: 28,
  IE: 22,
  IL: 23,
  IQ: 23,
  IS: 26,
  IT: 27,
  JO: 30,
  KW: 30,
  KZ: 20,
  LB: 28,
  LC: 32,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  LY: 25,
  MC: 27,
  MD: 24,
  ME: 22,
  MK: 19,
  MN: 20,
  MR: 27,
  MT: 31,
  MU: 30,
  NI: 28,
  NL: 18,
  NO: 15,
  OM: 23,
  PK: 24,
  PL: 28,
  PS: 29,
  PT: 25,
  QA: 29,
  RO: 24,
  RS: 22,
  RU: 33,
  SA: 24,
  SC: 31,
  SD: 18,
  SE: 24,
  SI: 19,
  SK: 24,
  SM: 27,
  SO: 23,
  ST: 25,
  SV: 28,
  TL: 23,
  TN: 24,
  TR: 26,
  UA: 29,
  VA: 22,
  VG: 24,
  XK: 20,
  YE: 30,
};

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
  const expected = IBAN_LENGTHS[compact.slice(0, 2)];
  const end = expected === undefined ? undefined : ends[expected];
  if (end === undefined || !passesIbanCheck(compact.slice(0, expected))) return [];
  // Letters all upper or all lower case: mixed case is base64 or an identifier, not an account.
  const letters = text.slice(0, end).replace(/[^A-Za-z]/g, '');
  if (letters !== letters.toUpperCase() && letters !== letters.toLowerCase()) return [];
  return [{ start: 0, end, kind: 'iban' }];
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
      : /secret|token|key|passw|credential|auth/i.test(context)
        ? 'credential'
        : 'high_entropy_token';
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

/** Up to 32 characters after the match (a label may follow the number: `123 456 789 (SIN)`). */
const after = (match: RegExpExecArray): string =>
  match.input.slice(match.index + match[0].length, match.index + match[0].length + 32);

/** Whether the words around the match, on its line, name what it is (`SIN`, `Steuer-ID`, `Aadhaar`, ...). */
const named = (match: RegExpExecArray, words: RegExp): boolean =>
  words.test(before(match).replace(/^[^]*\n/, '')) || words.test(after(match).replace(/\n[^]*$/, ''));

/**
 * National identifiers. A format with a check digit that few random numbers pass
 * (NIR mod 97, the codice fiscale's check letter, a DNI letter, a formatted CPF)
 * stands alone; a bare run of digits with a weak check (Luhn or Verhoeff: one
 * number in ten) or none is masked only when the words around it name it.
 */
const SIN_WORDS = /(?<![a-z])(?:sin|nas)(?![a-z])|social insurance|assurance sociale/i;
const STEUER_WORDS =
  /steuer[ _-]?(?:id|identifikations|nummer|idnr)|(?<![a-z])(?:idnr|tin)(?![a-z])|identifikationsnummer|tax[ _-]?(?:id|identification)/i;
const CPF_WORDS = /(?<![a-z])cpf(?![a-z])/i;
const AADHAAR_WORDS = /aadh?aar|(?<![a-z])uidai(?![a-z])|\u0906\u0927\u093e\u0930/i;
const NINO_WORDS =
  /(?<![a-z])nino(?![a-z])|national insurance|(?<![a-z])ni[ _-]?(?:no|number)(?![a-z])|(?<![a-z])n\.i\./i;

const digitsOnly = (text: string): string => text.replace(/\D/g, '');

function nino(match: RegExpExecArray): Mask[] {
  const text = match[0];
  const compact = text.replace(/ /g, '');
  if (!looksLikeNino(compact)) return [];
  // No check digit: two letters and six digits are part numbers as often, so its name must be nearby.
  return named(match, NINO_WORDS) ? [{ start: 0, end: text.length, kind: 'uk_nino' }] : [];
}

function cpf(match: RegExpExecArray): Mask[] {
  const text = match[0];
  if (!passesCpf(digitsOnly(text))) return [];
  const formatted = /^\d{3}\.\d{3}\.\d{3}-\d{2}$/.test(text);
  return formatted || named(match, CPF_WORDS) ? [{ start: 0, end: text.length, kind: 'br_cpf' }] : [];
}

/** A number whose check `passes` and whose name is nearby. */
const namedNumber =
  (kind: RedactionKind, words: RegExp, passes: (digits: string) => boolean) =>
  (match: RegExpExecArray): Mask[] =>
    passes(digitsOnly(match[0])) && named(match, words) ? [{ start: 0, end: match[0].length, kind }] : [];

/**
 * An international number as people write it: a country code written alone is
 * 1 or 7 or has two or three digits (`+6 ...`, `006-...` are not numbers), and
 * the 00 form, which order and account numbers also start with, is grouped.
 */
function plausibleInternational(text: string): boolean {
  const lead = /^(?:\+|00)(\d+)/.exec(text)?.[1] ?? '';
  if (lead.length === 1 && lead !== '1' && lead !== '7') return false;
  return text.startsWith('+') || /[ .\-/(]/.test(text);
}

/** Words before a dotted quad that make it a version (`version 1.2.3.4`, `build 10.0.1.7`), not an address. */
const VERSION_CONTEXT = /(?:version|ver\.?|release|build|firmware|rev\.?|v)[ \t]*[:=]?[ \t]*$/i;

/** A North American number: area code and exchange start at 2-9, and the area code is no N11 service code. */
const NANP = /^(?![2-9]11)[2-9]\d\d[2-9]\d{6}$/;

/** A `name@2x.png` asset, not an address. */
const RETINA_ASSET = /@\d(?:\.\d)?x\.(?:png|jpe?g|gif|webp|svg|avif)$/i;

/** Words before a number that make it an order, invoice or ticket number rather than a phone number. */
const ORDER_CONTEXT =
  /(?:order|invoice|ref|reference|ticket|case|tracking|sku|part|item|serial|s\/?n|bestell\w*|rechnung\w*|auftrag\w*|commande|facture|pedido|factura|ordine|fattura|encomenda|fatura|n[.º°o]{1,2}|nr\.?|num(?:ber|ero|éro)?\.?|#)[ \t]*[:#]?[ \t]*$/i;

/** A date, which a phone number's word may precede (`contact 2024-03-12`). */
const DATE = /^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})$/;

/** Words that name a phone number, in the corpus' languages. */
const PHONE_WORDS = [
  'tel',
  'phone',
  'mobil',
  'handy',
  'tél',
  'cell',
  'celular',
  'movil',
  'móvil',
  'portable',
  'fax',
  'whatsapp',
  'sms',
  'ruf',
  'appel',
  'llam',
  'chiam',
  'contact',
];

/** The start of an IBAN-shaped run (`DE89 3704 `): digits after it are that account, not a phone number. */
const IBAN_START = /[A-Za-z]{2}\d{2}(?:[ .-]?[A-Za-z0-9]{4}){0,7}[ .-]?$/;

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';

const AWS_PREFIXES = ['AKIA', 'ASIA', 'ABIA', 'ACCA', 'AGPA', 'AIDA', 'AIPA', 'ANPA', 'ANVA', 'APKA', 'AROA', 'ASCA'];

/** What every PLATFORM_TOKEN branch starts with. */
const PLATFORM_PREFIXES = [
  'npm_',
  'pypi-AgE',
  'dop_v1_',
  'hvs.',
  'hvb.',
  'sbp_',
  'lin_api_',
  'PMAK-',
  'SG.',
  'shpat_',
  'shpca_',
  'shppa_',
  'shpss_',
  'glsa_',
  'glc_',
  'sntrys_',
  'sntryu_',
  'NRAK-',
  'dp.',
  'ntn_',
  'ATATT3',
  'key-',
  'SK',
  'EAA',
  'ya29.',
  'GOCSPX-',
];

/** Whether some `@` is followed by a label and a dot, as an address's domain is (`@mail.example`). */
function atDomain(text: string): boolean {
  for (let at = text.indexOf('@'); at >= 0; at = text.indexOf('@', at + 1)) {
    let i = at + 1;
    while (i < text.length && /[A-Za-z0-9-]/.test(text[i]!)) i++;
    if (i > at + 1 && text[i] === '.') return true;
  }
  return false;
}

/** The endings of the key names the assignment rule knows (password, api_key, secret, token ...), lower case. */
const KEY_ENDINGS = ['pass', 'pwd', 'secret', 'token', 'key'];

/**
 * Whether some key name ending is followed, within what a key name and its
 * assignment allow, by `:` or `=`: `password = `, `"api_key": `, `key_id=`.
 */
function keyBeforeAssignment(lower: string): boolean {
  for (const ending of KEY_ENDINGS) {
    for (let at = lower.indexOf(ending); at >= 0; at = lower.indexOf(ending, at + 1)) {
      if (/^[a-z_-]{0,6}["']?[ \t]{0,8}[:=]/.test(lower.slice(at + ending.length, at + ending.length + 24)))
        return true;
    }
  }
  return false;
}

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
    needs: (t) => t.wordRun >= 23 && hasAny(t.text, ['pplx-', 'xai-', 'fw_', 'lsv2_', 'pcsk_', 'nvapi-', 'tgp_v1_']),
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
    needs: (t) => t.alnumRun >= 20 && hasAny(t.text, AWS_PREFIXES),
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
    needs: (t) => t.dottedWordRun >= 59 && t.wordRun >= 27,
  },
  {
    pattern: /(?<![\w:])\d{8,10}:[A-Za-z0-9_-]{35}(?![\w-])/g,
    mask: whole('telegram_token'),
    needs: (t) => t.digitsBeforeColon >= 8 && t.wordRun >= 35,
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
    needs: (t) => t.length >= 25 && hasAny(t.text, PLATFORM_PREFIXES),
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
    needs: (t) => (t.chars & (CHAR_COLON | CHAR_EQUALS)) !== 0 && keyBeforeAssignment(t.lower()),
  },
  {
    pattern:
      /\b(?:password|passphrase|passcode)[ \t]{1,8}(?:is|was)[ \t:]{1,8}["'`]?([^\s"'`,;[\]][^\s"'`,;]{2,511})/dgi,
    mask: prosePassword,
    needs: (t) => (t.chars & CHAR_BLANK) !== 0 && t.lower().includes('pass'),
  },
  {
    // The word for password in the other languages texts come in: `Passwort: X`, `mot de passe : X`, `contraseña es X`.
    pattern:
      /(?<![A-Za-z\u00c0-\u024f])(?:passwort|kennwort|mot de passe|contrase(?:ñ|n)a|senha|palavra-passe|password)["']?[ \t]{0,8}(?:[:=]|ist|lautet|est|es|é|è)[ \t:]{0,8}["'`]?([^\s"'`,;[\]][^\s"'`,;]{2,511})/dgi,
    mask: prosePassword,
    needs: (t) =>
      hasAny(t.lower(), ['passwort', 'kennwort', 'mot de passe', 'contrase', 'senha', 'palavra-passe', 'password']),
  },
  {
    // fortyCharKey wants a digit.
    pattern: /(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g,
    mask: fortyCharKey,
    needs: (t) => t.base64Run40 && t.digits > 0,
  },
  {
    // namedProviderKey wants a digit, and a provider named before the key (in the same text).
    pattern: /(?<![A-Za-z0-9_-])[A-Za-z0-9]{32}(?![A-Za-z0-9_-])/g,
    mask: namedProviderKey,
    needs: (t) => t.alnumRun >= 32 && t.digits > 0 && hasAny(t.lower(), NAMED_PROVIDERS),
  },
  {
    pattern: /(?<![\w.%+-])[\w.%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,63}/g,
    mask: (match) => (RETINA_ASSET.test(match[0]) ? [] : whole('email')(match)),
    needs: (t) => (t.chars & (CHAR_AT | CHAR_DOT)) === (CHAR_AT | CHAR_DOT) && atDomain(t.text),
  },
  {
    pattern: /(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ .-]?[A-Za-z0-9]{4}){2,7}(?:[ .-]?[A-Za-z0-9]{1,4})?(?![A-Za-z0-9])/g,
    mask: iban,
    // iban() wants at least 15 letters and digits, two of them digits.
    needs: (t) => t.length >= 15 && t.digits >= 2,
  },
  {
    // UK National Insurance number (AB 12 34 56 C, AB123456C) with its name nearby.
    pattern: /(?<![A-Za-z0-9])[A-Za-z]{2}(?: ?\d{2}){3} ?[A-Da-d](?![A-Za-z0-9])/g,
    mask: nino,
    needs: (t) => t.groupedDigits >= 6 && hasAny(t.lower(), ['nino', 'insurance', 'ni', 'n.i.']),
  },
  {
    // Italian codice fiscale, with its check letter (the day and place digits may be letters: omocodia).
    // The scan starts at the year's two digits (patterns led by a digit run fast) and looks back for the six letters.
    pattern:
      /\d{2}(?<=(?<![A-Za-z0-9])[A-Za-z]{6}\d{2})[A-Za-z][0-9LMNPQRSTUVlmnpqrstuv]{2}[A-Za-z][0-9LMNPQRSTUVlmnpqrstuv]{3}[A-Za-z](?![A-Za-z0-9])/g,
    mask: (match) => {
      const code = match.input.slice(match.index - 6, match.index + 10);
      return passesCodiceFiscale(code) ? [{ start: -6, end: 10, kind: 'it_codice_fiscale' }] : [];
    },
    needs: (t) => t.alnumRun >= 16 && t.lettersBeforeDigit >= 6,
  },
  {
    // Spanish DNI (12345678Z) and NIE (X1234567L), with their check letter.
    pattern: /(?<![\w-])[XYZ]?\d{7,8}-?[A-Z](?![\w-])/g,
    mask: (match) =>
      passesDniLetter(match[0].replace('-', '')) ? [{ start: 0, end: match[0].length, kind: 'es_dni' }] : [],
    needs: (t) => t.digitsBeforeUpper >= 7,
  },
  {
    // French NIR (numéro de sécurité sociale), 15 characters with its mod-97 key, spaced or not.
    pattern: /(?<![\w.-])[1278] ?\d{2} ?\d{2} ?(?:\d{2}|2[ABab]) ?\d{3} ?\d{3} ?\d{2}(?![\w-])/g,
    mask: (match) =>
      passesNirKey(match[0].replace(/ /g, '')) ? [{ start: 0, end: match[0].length, kind: 'fr_nir' }] : [],
    needs: (t) => t.digits >= 13,
  },
  {
    // Brazilian CPF: 123.456.789-09 alone, other spellings with `CPF` nearby.
    pattern: /(?<![\w.-])\d{3}(\.?)\d{3}\1\d{3}-?\d{2}(?![\w-])/g,
    mask: cpf,
    needs: (t) => t.groupedDigits >= 11,
  },
  {
    // German Steuer-ID: 11 digits (often 2-3-3-3), its check digit, and its name nearby.
    pattern: /(?<![\w.-])[1-9]\d(?: ?\d{3}){3}(?![\w-])/g,
    mask: namedNumber('de_tax_id', STEUER_WORDS, passesSteuerId),
    needs: (t) => t.digits >= 11 && hasAny(t.lower(), ['steuer', 'idnr', 'identifikationsnummer', 'tin', 'tax']),
  },
  {
    // Indian Aadhaar: 12 digits (4-4-4), Verhoeff check, and its name nearby.
    pattern: /(?<![\w.-])[2-9]\d{3}([ -]?)\d{4}\1\d{4}(?![\w-])/g,
    mask: namedNumber('in_aadhaar', AADHAAR_WORDS, passesAadhaar),
    needs: (t) => t.digits >= 12 && hasAny(t.lower(), ['aadhaar', 'aadhar', 'uidai', '\u0906\u0927\u093e\u0930']),
  },
  {
    // Canadian SIN: 9 digits (3-3-3), Luhn, and its name nearby.
    pattern: /(?<![\w.-])[1-79]\d{2}([ -]?)\d{3}\1\d{3}(?![\w-])/g,
    mask: namedNumber('ca_sin', SIN_WORDS, passesSin),
    needs: (t) => t.digits >= 9 && hasAny(t.lower(), ['sin', 'nas', 'social insurance', 'assurance sociale']),
  },
  {
    // After a + the digits are a phone number, however Luhn reads them.
    pattern: /(?<![\w+-])\d{1,19}(?:[ .\u00a0-]\d{1,19}){0,63}(?!\w)/g,
    // Digits after an IBAN's country and check digits are that account, not a card.
    mask: (match) => (IBAN_START.test(before(match)) ? [] : cardNumbers(match)),
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
    pattern: new RegExp(`(?<![\\w.])(?:${OCTET}\\.){3}${OCTET}(?!\\.?\\d)`, 'g'),
    mask: (match) => (VERSION_CONTEXT.test(before(match)) ? [] : whole('ipv4')(match)),
    needs: (t) => t.dottedDigits >= 3,
  },
  {
    // International numbers start with + or 00 (a (0) trunk digit may follow the country code); at most 15 digits.
    pattern:
      /(?<![\w+])(?:\+|(?<![\w.-])00)[1-9]\d{0,2}(?:[ .\-/]?\(\d{1,4}\))?[ .\-/]?\d{1,14}(?:[ .\-/]?\(\d{1,4}\))?(?:[ .\-/]\d{1,14}){0,7}(?![\dA-Za-z])/g,
    mask: (match) =>
      IBAN_START.test(before(match)) || !plausibleInternational(match[0]) ? [] : digitCount('phone', 8, 17)(match),
    needs: (t) => t.digits >= 8 && ((t.chars & CHAR_PLUS) !== 0 || t.text.includes('00')),
  },
  {
    // National numbers with a trunk 0 (020 7946 0958, 030/123456, 01 23 45 67 89): 9 to 12 digits in groups.
    pattern: /(?<![\w+.:-]|\d[ .\-/])\(?0[1-9]\d{0,3}\)?(?:[ \-/]\d{2,8}){1,5}(?![\w-]|[.:]\d)/g,
    mask: (match) =>
      IBAN_START.test(before(match)) || ORDER_CONTEXT.test(before(match)) ? [] : digitCount('phone', 9, 12)(match),
    needs: (t) => t.digits >= 9,
  },
  {
    // US shapes: (415) 555-0100 / 415-555-0100 / 415.555.0100.
    pattern: /(?<![\w(+-]|\d[ .\-/])(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w-])/g,
    mask: (match) =>
      ORDER_CONTEXT.test(before(match)) || !NANP.test(match[0].replace(/\D/g, '')) ? [] : whole('phone')(match),
    // Its last seven digits are in one stretch of digits and [ .-].
    needs: (t) => t.digits >= 10 && t.groupedDigits >= 7,
  },
  {
    // Any other national spelling (612 345 678, (11) 91234-5678) after a word that names a phone number.
    pattern:
      /(?<![A-Za-z\u00c0-\u024f])(?:t[eé]l(?:[eé]phone|efon[eo]?|[eé]fono|em[oó]vel)?|phone|mobile?|handy|cell(?:ulare)?|celular|m[oó]vil|portable|fax|whats ?app|sms|ruf|contact[oe]?)(?:[_-]?(?:nummer|number|nr|no|to|from))?\b\.?[^\d\n]{0,16}?(\(?\d{2,4}\)?(?:[ ./-]?\d{2,5}){2,4})(?![\w-]|[.:]\d)/dgi,
    mask: (match) => {
      const range = match.indices?.[1];
      const value = match[1];
      if (!range || value === undefined) return [];
      const digits = digitsOnly(value).length;
      if (digits < 8 || digits > 13 || DATE.test(value)) return [];
      return [{ start: range[0] - match.index, end: range[1] - match.index, kind: 'phone' }];
    },
    needs: (t) => t.digits >= 8 && hasAny(t.lower(), PHONE_WORDS),
  },
];

export function placeholder(kind: RedactionKind): string {
  return (PII_KINDS as readonly string[]).includes(kind) ? `[${kind.toUpperCase()}]` : `[SECRET:${kind}]`;
}
