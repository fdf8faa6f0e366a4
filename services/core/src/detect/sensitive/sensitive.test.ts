import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CORPUS, ENCODINGS, core } from '../../../../../test/privacy/corpus.ts';
import { PII_KINDS, SECRET_KINDS } from '../../content/redaction-rules.ts';
import {
  compileSensitivePack,
  createSensitiveDetector,
  DEFAULT_SENSITIVE_PACK,
  detectSensitive,
  isReference,
  loadSensitivePack,
} from './index.ts';

const shipped = JSON.parse(readFileSync(DEFAULT_SENSITIVE_PACK, 'utf8')) as {
  rules: Record<string, unknown>[];
  ignore: Record<string, unknown>;
};

/** The shipped pack with its rules changed by `edit`. */
function withRules(edit: (rules: Record<string, unknown>[]) => Record<string, unknown>[]): unknown {
  return { ...shipped, rules: edit(shipped.rules.map((rule) => ({ ...rule }))) };
}

describe('sensitive rule pack', () => {
  it('loads the shipped pack: one rule per engine kind, mapped to LLM02 and AML.T0057', () => {
    const pack = loadSensitivePack();
    expect(pack.pack).toBe('sensitive');
    expect(pack.rules.map((r) => r.kind).sort()).toEqual([...PII_KINDS, ...SECRET_KINDS].sort());
    for (const rule of pack.rules) {
      expect(rule.id).toBe(`${(PII_KINDS as readonly string[]).includes(rule.kind) ? 'pii' : 'secret'}.${rule.kind}`);
      expect(rule.owaspLlm).toBe('LLM02');
      expect(rule.atlas).toBe('AML.T0057');
    }
  });

  it.each([
    ['a bad id', withRules((r) => [{ ...r[0], id: 'Email' }, ...r.slice(1)]), /rule "Email", field id/],
    ['an id of the wrong family', withRules((r) => [{ ...r[0], id: 'secret.email' }, ...r.slice(1)]), /"pii\.email"/],
    ['an unknown kind', withRules((r) => [{ ...r[0], kind: 'passport' }, ...r.slice(1)]), /field kind/],
    ['a bad severity', withRules((r) => [{ ...r[0], severity: 'severe' }, ...r.slice(1)]), /field severity/],
    [
      'a bad channel severity',
      withRules((r) => [{ ...r[0], channelSeverity: { chat: 'high' } }, ...r.slice(1)]),
      /channelSeverity/,
    ],
    ['a confidence above 1', withRules((r) => [{ ...r[0], confidence: 1.5 }, ...r.slice(1)]), /field confidence/],
    ['a duplicate rule', withRules((r) => [...r, r[0]!]), /used twice/],
    ['a missing kind', withRules((r) => r.slice(1)), /no rule for "email"/],
    ['an unknown field', withRules((r) => [{ ...r[0], pattern: 'x' }, ...r.slice(1)]), /Unrecognized key/],
    ['a bad range', { ...shipped, ignore: { ...shipped.ignore, ipv4Ranges: ['10.0.0.0/40'] } }, /10\.0\.0\.0\/40/],
    ['a range with host bits', { ...shipped, ignore: { ...shipped.ignore, ipv4Ranges: ['10.0.0.1/8'] } }, /host bits/],
  ])('rejects %s with the rule named', (_, raw, message) => {
    expect(() => compileSensitivePack(raw, 'test.json')).toThrow(message);
    expect(() => compileSensitivePack(raw, 'test.json')).toThrow(/rule pack test\.json/);
  });

  it('names an unreadable file', () => {
    expect(() => loadSensitivePack('/nonexistent/pack.json')).toThrow(/cannot read it as JSON/);
  });
});

describe('sensitive detector', () => {
  it('reports a secret with its rule, kind, offsets and a redacted excerpt', () => {
    const key = 'AKIA2Z4QWERTY7UIOP3L';
    const text = `deploy with key ${key} in prod`;
    const [d, ...rest] = detectSensitive(text, 'user_prompt');
    expect(rest).toEqual([]);
    expect(d).toMatchObject({
      detector: 'sensitive',
      rule: 'secret.aws_access_key',
      kind: 'aws_access_key',
      channel: 'user_prompt',
      severity: 'high',
      score: 0.95,
      via: 'text',
    });
    expect(text.slice(d!.start, d!.end)).toBe(key);
    expect(d!.excerpt).toBe('deploy with key AKIA…[aws_access_key] in prod');
  });

  it('rates a secret higher in a completion or tool arguments than in a prompt', () => {
    const text = `token ghp_${'a1B2c3D4e5'.repeat(3)}zY9x8W`;
    expect(detectSensitive(text, 'user_prompt')[0]?.severity).toBe('high');
    expect(detectSensitive(text, 'completion')[0]?.severity).toBe('critical');
    expect(detectSensitive(text, 'tool_arguments')[0]?.severity).toBe('critical');
  });

  it('finds national identifiers with their checks', () => {
    const kinds = (text: string): string[] => detectSensitive(text, 'tool_output').map((d) => d.kind);
    expect(kinds('CF: RSSMRA85T10A562S')).toEqual(['it_codice_fiscale']);
    expect(kinds('DNI 12345678Z')).toEqual(['es_dni']);
    expect(kinds('NIR 2 69 05 49 588 157 80')).toEqual(['fr_nir']);
    expect(kinds('CPF 529.982.247-25')).toEqual(['br_cpf']);
    expect(kinds('Steuer-ID 86 095 742 719')).toEqual(['de_tax_id']);
    expect(kinds('Aadhaar 2341 2341 2346')).toEqual(['in_aadhaar']);
    expect(kinds('SIN 130 692 544')).toEqual(['ca_sin']);
    expect(kinds('National Insurance number AB123456C')).toEqual(['uk_nino']);
    expect(kinds('CPF 529.982.247-26, DNI 12345678A, SIN 130 692 545')).toEqual([]);
  });

  it('reads through encodings and says which', () => {
    const [d] = detectSensitive('{"to":"jane\\u0040firm.example"}', 'tool_arguments');
    expect(d).toMatchObject({ kind: 'email', via: 'json' });
    const [u] = detectSensitive('https://x.example/?q=jane%40firm.example&p=1', 'tool_arguments');
    expect(u).toMatchObject({ kind: 'email', via: 'url' });
  });

  it.each([
    ['a published test card', 'Use 4242 4242 4242 4242 with any future date'],
    ["AWS's documentation key", 'aws_access_key_id = AKIAIOSFODNN7EXAMPLE'],
    ['a placeholder key', 'export AWS_ACCESS_KEY_ID=AKIAXXXXXXXXXXXXXXXX'],
    ['a masked password', 'password: ********'],
    ['an environment reference', 'password: ${DB_PASSWORD}'],
    ['a code reference', 'token = request.headers.get("x-token")'],
    ['a type annotation', 'apiKey: string;'],
    ['a private address', 'connect to 10.1.2.3 and 192.168.0.7'],
    ['a documentation address', 'see 203.0.113.9 and 198.51.100.4'],
    ['a git remote', 'origin git@github.com:acme/app.git (fetch)'],
    ['a version', 'version 1.2.3.4 is out'],
    ['empty text', ''],
  ])('leaves %s out (redaction may still mask it)', (_, text) => {
    expect(detectSensitive(text, 'user_prompt')).toEqual([]);
  });

  it('reports public addresses', () => {
    expect(detectSensitive('login from 81.2.69.160', 'tool_output').map((d) => d.kind)).toEqual(['ipv4']);
  });

  it('skips disabled rules and reports strongest first', () => {
    const pack = compileSensitivePack(
      withRules((rules) => rules.map((r) => (r.kind === 'email' ? { ...r, enabled: false } : r))),
    );
    const detector = createSensitiveDetector({ pack });
    const text = 'mail a@b.example, card 4539 1488 0343 6467';
    expect(detector.detect(text, 'user_prompt').map((d) => d.kind)).toEqual(['credit_card']);
    expect(detectSensitive(text, 'user_prompt').map((d) => d.kind)).toEqual(['credit_card', 'email']);
  });

  it('bounds the detections and the text scanned', () => {
    const detector = createSensitiveDetector({ maxDetections: 3, maxChars: 1000 });
    const text = Array.from({ length: 100 }, (_, i) => `u${i}@mail.example`).join(' ');
    const found = detector.detect(text, 'tool_output');
    expect(found).toHaveLength(3);
    expect(found.every((d) => d.end <= 1000)).toBe(true);
  });

  it('never puts a corpus value into an excerpt, in any encoding', () => {
    for (const entry of CORPUS) {
      for (const encode of Object.values(ENCODINGS)) {
        for (const d of detectSensitive(encode(entry.text), 'completion')) {
          expect(d.excerpt.length).toBeLessThanOrEqual(120);
          expect(core(d.excerpt)).not.toContain(core(entry.value));
          expect(d.excerpt).not.toContain(entry.value);
        }
      }
    }
  });

  it('tells references from secrets', () => {
    for (const ref of [
      '${X}',
      '<password>',
      '{{ .Values.pw }}',
      'os.environ["A"]',
      'DB_PASSWORD',
      'getToken()',
      'None',
    ])
      expect(isReference(ref), ref).toBe(true);
    for (const value of ['hunter2!x', 'Tr0ub4dor&3', 'wJalrXUtnFEMI/K7MDENG', 's3cr3t-Value'])
      expect(isReference(value), value).toBe(false);
  });
});
