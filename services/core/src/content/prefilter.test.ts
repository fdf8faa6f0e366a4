import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CORPUS, ENCODINGS, variants } from '../../../../test/privacy/corpus.ts';
import { decodedViews } from './decode.ts';
import { textFeatures } from './prefilter.ts';
import { findSensitive, redact } from './redact.ts';
import { REDACTION_RULES, type RedactionRule } from './redaction-rules.ts';

/**
 * A rule's `needs` may only skip texts the rule cannot mask anything in. Checked
 * against the rule itself, on every decoded view of the shared corpus in every
 * encoding and spelling, on the redaction tests' texts, and on generated texts
 * built from the rules' own literals; and redaction as a whole must find exactly
 * what it finds with every rule run on every text.
 */

/** Whether the rule, run over the whole text as redact.ts runs it, masks anything. */
function masksSomething(rule: RedactionRule, text: string): boolean {
  for (const match of text.matchAll(rule.pattern)) if (rule.mask(match).length > 0) return true;
  return false;
}

function violations(text: string): string[] {
  const out: string[] = [];
  for (const view of decodedViews(text)) {
    const features = textFeatures(view.text);
    REDACTION_RULES.forEach((rule, index) => {
      if (!rule.needs(features) && masksSomething(rule, view.text)) out.push(`rule ${index} on ${view.text}`);
    });
  }
  return out;
}

/** What redaction finds with every rule run on every text (no prefilter). */
function unfiltered<T>(run: () => T): T {
  const kept = REDACTION_RULES.map((rule) => rule.needs);
  for (const rule of REDACTION_RULES) rule.needs = () => true;
  try {
    return run();
  } finally {
    REDACTION_RULES.forEach((rule, index) => (rule.needs = kept[index]!));
  }
}

const CORPUS_TEXTS = CORPUS.flatMap((entry) =>
  variants(entry).flatMap((value) =>
    Object.values(ENCODINGS).map((encode) => encode(entry.text.replace(entry.value, value))),
  ),
);

const SAMPLES = [
  'key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----',
  'token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end',
  'postgres://app:s3cret!@db:5432/x',
  'https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX',
  'https://discord.com/api/webhooks/123456789012345678/abcdefghijklmnopqrstuvwxyz_ABCDEFG',
  `sk-ant-api03-${'Ab3'.repeat(30)}`,
  `sk-proj-${'xY7'.repeat(20)}`,
  `gsk_${'aB3'.repeat(10)}`,
  `fw_${'aB3'.repeat(8)}`,
  `hf_${'aB3'.repeat(12)}`,
  `r8_${'aB3'.repeat(8)}`,
  'AKIAIOSFODNN7EXAMPLE',
  `ghp_${'a1B2'.repeat(9)}`,
  `github_pat_11ABCDEFG0${'x'.repeat(40)}`,
  `glpat-${'aB3-'.repeat(6)}`,
  'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx',
  `M${'a1B2'.repeat(6)}.${'x9Y'.repeat(2)}.${'Qr5'.repeat(10)}`,
  `123456789:${'aB3-_'.repeat(7)}`,
  'AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI',
  `npm_${'aB3'.repeat(12)}`,
  `ya29.${'aB3-'.repeat(6)}`,
  `glc_${'aB+/'.repeat(9)}`,
  `sntrys_${'aB+/='.repeat(9)}`,
  `ATATT3${'aB=-'.repeat(30)}`,
  'DefaultEndpointsProtocol=https;AccountName=x;AccountKey=abcdEFGH1234+/==;',
  'https://x.blob.core.windows.net/c?sv=2022&sig=abcDEF123%2Bxyz%3D',
  `sk_live_${'4eC39HqLyjWDarjtT1zdp7dc'}`,
  `whsec_${'aB+/'.repeat(7)}`,
  'Authorization: Bearer abc123def456ghi789jkl',
  'authorization=Digest 0123456789',
  'use bearer abcdefghijklmnop1',
  'Authorization: Basic dXNlcjpodW50ZXIy',
  'login with password=hunter2 please',
  '{"db_password": "s3cr\\"et", "user": "bob"}',
  'the password is Tr0ub4dor',
  'aws secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY ok',
  `mistral key ${'aB3'.repeat(10)}x1`,
  'write to jane.doe+tag@mail.example.co.uk today',
  'IBAN DE89 3704 0044 0532 0130 00 OK',
  'card 4111 1111 1111 1111 exp 12/29',
  'ssn 123-45-6789',
  'social security number: 123456789',
  'from 192.168.1.20.',
  'call +44 20 7946 0958 now',
  'Tel 0049 30 1234567',
  'Telefon: 030 1234567',
  'call (415) 555-0100',
  'NI number AB123456C',
  'HMRC national insurance: AB 12 34 56 C',
  'Passwort: Sommer2024! und mot de passe : Lune9876#',
  'CF RSSMRA85T10A562S',
  'DNI 12345678Z, NIE X1234567L',
  'NIR 1 84 12 76 451 089 46',
  'CPF 529.982.247-25 e cpf 52998224725',
  'Steuer-ID: 86 095 742 719',
  'Aadhaar 2341 2341 2346',
  'SIN 130 692 544',
  'Teléfono: 612 345 678',
  'Celular (11) 91234-5678',
];

describe('redaction rule prefilters', () => {
  it('never skip a rule that masks something, on the corpus in every encoding and spelling', () => {
    const bad = [...CORPUS_TEXTS, ...SAMPLES].flatMap(violations);
    expect(bad).toEqual([]);
  });

  it('are exercised: every rule masks something in the samples', () => {
    const texts = [...CORPUS_TEXTS, ...SAMPLES].flatMap((text) => decodedViews(text).map((view) => view.text));
    REDACTION_RULES.forEach((rule, index) => {
      expect(
        texts.some((text) => masksSomething(rule, text)),
        `rule ${index} ${rule.pattern.source.slice(0, 40)}`,
      ).toBe(true);
    });
  });

  it('never skip a rule that masks something, in generated texts', () => {
    const pieces = fc.constantFrom(
      ...['sk-', 'sk-ant-', 'gsk_', 'fw_', 'hf_', 'r8_', 'AKIA', 'ghp_', 'github_pat_', 'glpat-', 'xoxb-', 'xapp-'],
      ...['AIza', 'npm_', 'ya29.', 'glc_', 'sntrys_', 'ATATT3', 'SG.', 'hvs.', 'eyJ', '-----BEGIN ', 'PRIVATE KEY'],
      ...['://', 'hooks.slack.com/services/', 'discord.com/api/webhooks/', 'AccountKey', 'sig', 'sk_live_', 'whsec_'],
      ...['Authorization', 'bearer', 'Basic', 'password', 'pwd', 'secret', 'token', 'api_key', 'mistral', 'ssn'],
      ...[' is ', ' ', '\t', ':', '=', '"', "'", '@', '.', '-', '_', '+', '/', '(', ')', '00', '0', '1', '4', '9'],
      ...['1234', '4111', '5678', '20', 'DE89', 'a', 'Z', 'x', 'aB3', 'Qr5x', 'abcdEFGH', '%40', '%2B', '\\u0040'],
      ...['\\"', '&#64;', '&amp;', '\u200b', '\uff11', 'example.com'],
      ...[
        'SIN',
        'ni number',
        'Passwort',
        'senha',
        ' est ',
        'Steuer-ID',
        'Aadhaar',
        'CPF',
        'NINO',
        'tel',
        'RSSMRA85T10A562S',
        '12345678Z',
        '529.982.247-25',
      ],
      ...['86095742719', '130692544', '234123412346', '184127645108946', 'AB123456C', '612 345 678'],
    );
    const run = fc.array(pieces, { maxLength: 80 }).map((parts) => parts.join(''));
    // A run of characters a token is made of, to reach the rules' minimum lengths.
    const repeated = fc
      .tuple(pieces, fc.constantFrom('aB3', '7', 'x9-', 'Zq_', 'k+/'), fc.integer({ min: 5, max: 60 }), pieces)
      .map(([head, body, times, tail]) => head + body.repeat(times) + tail);
    fc.assert(
      fc.property(fc.array(fc.oneof(run, repeated), { minLength: 1, maxLength: 4 }), (parts) => {
        const text = parts.join(' ');
        expect(violations(text)).toEqual([]);
        expect(findSensitive(text)).toEqual(unfiltered(() => findSensitive(text)));
      }),
      { numRuns: 3000 },
    );
  });

  it('change nothing redaction finds in the corpus and samples', () => {
    const texts = [...CORPUS_TEXTS, ...SAMPLES];
    const expected = unfiltered(() => texts.map((text) => redact(text)));
    expect(texts.map((text) => redact(text))).toEqual(expected);
  });
});
