import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { redact } from './redact.ts';

describe('redact', () => {
  it.each([
    ['email', 'write to jane.doe+tag@mail.example.co.uk today', 'write to [EMAIL] today'],
    ['phone, international', 'call +44 20 7946 0958 now', 'call [PHONE] now'],
    ['phone, international without spaces', 'call +4915112345678', 'call [PHONE]'],
    ['phone, US with parentheses', 'call (415) 555-0100', 'call [PHONE]'],
    ['phone, US with dashes', 'call 415-555-0100.', 'call [PHONE].'],
    ['credit card, grouped', 'card 4111 1111 1111 1111 exp 12/29', 'card [CREDIT_CARD] exp 12/29'],
    ['credit card, dashed', 'card 5555-5555-5555-4444', 'card [CREDIT_CARD]'],
    ['credit card, Amex', 'amex 378282246310005', 'amex [CREDIT_CARD]'],
    ['credit card, next to other digits', 'ref 1234 4111 1111 1111 1111', 'ref 1234 [CREDIT_CARD]'],
    ['IBAN, grouped', 'IBAN DE89 3704 0044 0532 0130 00 OK', 'IBAN [IBAN] OK'],
    ['IBAN, compact', 'to GB82WEST12345698765432.', 'to [IBAN].'],
    ['US SSN', 'ssn 123-45-6789', 'ssn [US_SSN]'],
    ['IPv4', 'from 192.168.1.20.', 'from [IPV4].'],
    [
      'PEM private key',
      'key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nqh6Y2QIDAQAB\n-----END RSA PRIVATE KEY-----\nthanks',
      'key:\n[SECRET:private_key]\nthanks',
    ],
    [
      'PEM private key cut off',
      'key -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA',
      'key [SECRET:private_key]',
    ],
    [
      'JWT',
      'token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end',
      'token [SECRET:jwt] end',
    ],
    ['Anthropic key', `key sk-ant-api03-${'Ab3'.repeat(30)}`, 'key [SECRET:anthropic_api_key]'],
    ['OpenAI key', `OPENAI sk-proj-${'xY7'.repeat(20)}`, 'OPENAI [SECRET:openai_api_key]'],
    ['AWS access key', 'aws AKIAIOSFODNN7EXAMPLE', 'aws [SECRET:aws_access_key]'],
    ['GitHub token', `gh ghp_${'a1B2'.repeat(9)}`, 'gh [SECRET:github_token]'],
    ['GitHub fine-grained token', `gh github_pat_11ABCDEFG0${'x'.repeat(40)}`, 'gh [SECRET:github_token]'],
    ['Slack token', 'slack xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx', 'slack [SECRET:slack_token]'],
    ['Google API key', 'g AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI', 'g [SECRET:google_api_key]'],
    ['Stripe key', `stripe sk_live_${'4eC39HqLyjWDarjtT1zdp7dc'}`, 'stripe [SECRET:stripe_key]'],
    ['Bearer token', 'Authorization: Bearer abc123def456ghi789jkl', 'Authorization: Bearer [SECRET:bearer_token]'],
    ['password pair', 'login with password=hunter2 please', 'login with password=[SECRET:password] please'],
    [
      'password in JSON',
      '{"db_password": "s3cr\\"et", "user": "bob"}',
      '{"db_password": "[SECRET:password]", "user": "bob"}',
    ],
    ['credential pair', 'api_key: abcd1234efgh', 'api_key: [SECRET:credential]'],
    ['prefixed credential', 'AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG', 'AWS_SECRET_ACCESS_KEY=[SECRET:credential]'],
    [
      'AWS secret without a key name',
      'aws secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY ok',
      'aws secret [SECRET:aws_secret_key] ok',
    ],
    ['card, dotted', 'card 4111.1111.1111.1111', 'card [CREDIT_CARD]'],
    ['IBAN, lower case', 'iban de89 3704 0044 0532 0130 00', 'iban [IBAN]'],
    ['phone, 00 prefix', 'Tel 0049 30 1234567', 'Tel [PHONE]'],
    ['phone, (0) trunk', 'call +44 (0)20 7946 0958', 'call [PHONE]'],
    ['phone, national with trunk 0', 'Telefon: 030 1234567', 'Telefon: [PHONE]'],
    ['Basic auth', 'Authorization: Basic dXNlcjpodW50ZXIy', 'Authorization: Basic [SECRET:basic_auth]'],
    ['email, URL-encoded', 'q=jane%40example.com&x=1', 'q=[EMAIL]&x=1'],
    ['email, JSON-escaped', '{"to":"jane\\u0040example.com"}', '{"to":"[EMAIL]"}'],
    [
      'password in JSON in JSON',
      JSON.stringify({ body: JSON.stringify({ password: 'hunter2!x' }) }),
      JSON.stringify({ body: JSON.stringify({ password: '[SECRET:password]' }) }),
    ],
    [
      'Postgres URL password',
      'postgres://app:s3cret!@db:5432/x',
      'postgres://app:[SECRET:connection_string]@db:5432/x',
    ],
    ['ADO.NET password', 'Server=db;User Id=sa;Password=s3cret!;', 'Server=db;User Id=sa;Password=[SECRET:password];'],
    ['UK NINO as printed, named', 'NI number: AB 12 34 56 C.', 'NI number: [UK_NINO].'],
    ['UK NINO compact, named', 'National Insurance number AB123456C', 'National Insurance number [UK_NINO]'],
    ['Canadian SIN, named', 'SIN: 130-692-544', 'SIN: [CA_SIN]'],
    ['French NIR', 'n° sécu 2 69 05 49 588 157 80', 'n° sécu [FR_NIR]'],
    ['Spanish DNI', 'DNI 12345678-Z', 'DNI [ES_DNI]'],
    ['Spanish NIE', 'NIE X1234567L.', 'NIE [ES_DNI].'],
    ['Italian codice fiscale', 'CF: RSSMRA85T10A562S', 'CF: [IT_CODICE_FISCALE]'],
    ['German Steuer-ID, named', 'Steuer-IdNr. 86 095 742 719', 'Steuer-IdNr. [DE_TAX_ID]'],
    ['Brazilian CPF, formatted', 'CPF 529.982.247-25', 'CPF [BR_CPF]'],
    ['Brazilian CPF, compact and named', 'cpf: 52998224725', 'cpf: [BR_CPF]'],
    ['Indian Aadhaar, named', 'Aadhaar no. 2341 2341 2346', 'Aadhaar no. [IN_AADHAAR]'],
    ['phone after its name', 'Teléfono: 612 345 678', 'Teléfono: [PHONE]'],
    ['Brazilian mobile after its name', 'celular (11) 91234-5678', 'celular [PHONE]'],
  ])('masks %s', (_, text, masked) => {
    expect(redact(text).text).toBe(masked);
  });

  it('reports the kinds found, each once', () => {
    const { kinds } = redact('a@b.io c@d.io AKIAIOSFODNN7EXAMPLE 10.0.0.1');
    expect(kinds).toEqual(['aws_access_key', 'email', 'ipv4']);
  });

  it.each([
    ['a card number failing Luhn', 'card 4111 1111 1111 1112'],
    ['a Luhn-valid number of no card scheme', 'order 1000000000000008'],
    ['an epoch timestamp in milliseconds', 'at 1795168800000'],
    ['an IBAN failing its check', 'DE89 3704 0044 0532 0130 01'],
    ['an SSN of a never-issued area', '666-12-3456 and 000-12-3456'],
    ['an impossible address', '999.1.1.1 and 1.2.3'],
    ['an address without a domain', 'root@localhost'],
    ['a short sk- word', 'use sk-learn for that'],
    ['prose mentioning a bearer', 'The Bearer of this letter is welcome'],
    ['an HMRC example NINO (QQ is never issued)', 'NI: QQ 12 34 56 C'],
    ['a NINO shape without its name', 'part AB123456C in stock, lot AB 12 34 56 C'],
    ['a Luhn-valid 9-digit number without a SIN named', 'order 130 692 544 shipped'],
    ['a SIN-named number failing Luhn', 'SIN 130 692 545'],
    ['a NIR failing its key', '1 84 12 76 451 089 47'],
    ['a DNI with the wrong letter', 'DNI 12345678A'],
    ['a codice fiscale with the wrong check letter', 'CF RSSMRA85T10A562T'],
    ['a Steuer-ID shape without its name', 'Rechnung 86095742719'],
    ['a named Steuer-ID failing its check', 'Steuer-ID 86095742718'],
    ['a CPF failing its check', 'CPF 529.982.247-26'],
    ['a compact CPF without its name', 'pedido 52998224725'],
    ['an Aadhaar-shaped number without its name', 'ref 2341 2341 2346'],
    ['a date after a phone word', 'contact 2024-03-12 about it'],
  ])('leaves %s alone', (_, text) => {
    expect(redact(text)).toEqual({ text, kinds: [] });
  });

  it('leaves ordinary text alone', () => {
    const text = [
      'Meeting on 2026-11-20T10:00:00Z at 10:30 in room 4.2 with 3 people; budget $1,234.56.',
      'Order #123456 shipped; tracking 1Z999AA10123456784 via HTTP 404 retry, version 2.1.0.',
      'Trace 4bf92f3577b34da6a3ce929d0e0e4736, request 550e8400-e29b-41d4-a716-446655440000.',
      'We used max_tokens: 256 and the token count stayed low; the password policy is strict.',
      'Summarise chapter 12, pages 100-120, and call the bearer bonds "old news".',
      'Commit 9fceb02d0ae598e95dc970b74767f19372d61af8 of gpt-4o-2024-08-06 on 01.02.2024 12:00, v1.2.3.',
      'GET https://api.example.com/v1/items?page=2&sort=desc+name&q=hello%20world HTTP/1.1',
      'Password policy: the password is required; see the secret garden, chapter 3.',
    ].join('\n');
    expect(redact(text)).toEqual({ text, kinds: [] });
  });

  it('never re-matches its own placeholders', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
    expect(redact(`secret: ${jwt}`)).toEqual({ text: 'secret: [SECRET:jwt]', kinds: ['jwt'] });
    expect(redact(redact('x AKIAIOSFODNN7EXAMPLE').text)).toEqual({ text: 'x [SECRET:aws_access_key]', kinds: [] });
  });

  // Each input is shaped to make a backtracking pattern retry from every position.
  it.each([
    ['letters', 'a'.repeat(1 << 20)],
    ['digits', '1'.repeat(1 << 20)],
    ['digit groups', '1 '.repeat(1 << 19)],
    ['dotted digits', '1.'.repeat(1 << 19)],
    ['dashed digits', '123-45-'.repeat(1 << 17)],
    ['at signs', 'a@'.repeat(1 << 19)],
    ['dotted domain without a TLD', `a@${'b.'.repeat(1 << 19)}`],
    ['key names', 'password'.repeat(1 << 17)],
    ['unterminated quoted value', `password="${'a'.repeat(1 << 20)}`],
    ['assignments', 'a=b '.repeat(1 << 18)],
    ['bearer words', 'Bearer '.repeat(1 << 17)],
    ['JWT headers', 'eyJ'.repeat(1 << 18)],
    ['JWT segments', 'eyJaaaaa.'.repeat(1 << 17)],
    ['key prefixes', 'sk-ant-'.repeat(1 << 17)],
    ['PEM headers', '-----BEGIN PRIVATE KEY-----'.repeat(1 << 15)],
    ['PEM body without an end', `-----BEGIN PRIVATE KEY-----\n${'A'.repeat(1 << 20)}`],
    ['phone prefixes', '+1 '.repeat(1 << 18)],
    ['IBAN prefixes', 'DE89 '.repeat(1 << 18)],
    ['Luhn-valid cards back to back', '4111111111111111 '.repeat(1 << 16)],
    ['percent escapes', '%41'.repeat(1 << 18)],
    ['percent escapes of a long UTF-8 sequence', '%F0%9F'.repeat(1 << 17)],
    ['nested JSON escapes', '\\\\\\"'.repeat(1 << 17)],
    ['HTML references', '&#64;'.repeat(1 << 18)],
    ['form-encoded pluses', `?q=${'a+%40+'.repeat(1 << 17)}`],
    ['zero-width characters', 'a\u200b'.repeat(1 << 19)],
    ['connection string schemes', 'x://a:'.repeat(1 << 17)],
    ['authorization headers', 'Authorization: '.repeat(1 << 16)],
    ['Azure key names', 'AccountKey='.repeat(1 << 16)],
    ['40-character tokens', `${'aB3/'.repeat(10)} `.repeat(1 << 14)],
    ['00 prefixes', '0049 '.repeat(1 << 17)],
    ['trunk prefixes', '030 '.repeat(1 << 18)],
    ['Telegram shapes', '1234567890:'.repeat(1 << 16)],
    ['NINO shapes', 'AB 12 34 56 '.repeat(1 << 16)],
    ['codice fiscale shapes', 'RSSMRA85T10A562'.repeat(1 << 16)],
    ['DNI shapes', '1234567-'.repeat(1 << 17)],
    ['NIR shapes', '1 84 12 76 451 089 4'.repeat(1 << 15)],
    ['CPF shapes', '529.982.247-'.repeat(1 << 16)],
    ['Steuer-ID with its name', `Steuer-ID ${'86 095 742 71'.repeat(1 << 16)}`],
    ['SIN with its name', `SIN ${'130 692 54'.repeat(1 << 16)}`],
    ['Aadhaar with its name', `Aadhaar ${'2341 2341 234'.repeat(1 << 16)}`],
    ['phone words', 'tel. 12 '.repeat(1 << 17)],
    ['phone words and digit groups', `Teléfono ${'12 345'.repeat(1 << 17)}`],
  ])('stays linear on 1 MB of %s', (_, text) => {
    const started = performance.now();
    redact(text);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

/** The usual email detector; redacted text must give it nothing. */
const EMAIL = /[\w.%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}/;

describe('redact (properties)', () => {
  it('leaves no email a simple detector finds, in any text', () => {
    const pieces = fc.constantFrom('a', 'Z', '7', '.', '-', '_', '+', '@', ' ', '\n', 'io', 'example.com', '"', ':');
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 300 }), (parts) => {
        expect(redact(parts.join('')).text).not.toMatch(EMAIL);
      }),
      { numRuns: 500 },
    );
  });

  it('changes nothing when applied twice', () => {
    const pieces = fc.constantFrom(
      'a',
      '7',
      '.',
      '@',
      ' ',
      '=',
      ':',
      '[',
      ']',
      '"',
      'password',
      'secret',
      'x.io',
      '4111',
    );
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 200 }), (parts) => {
        const once = redact(parts.join('')).text;
        expect(redact(once).text).toBe(once);
      }),
      { numRuns: 500 },
    );
  });

  it('leaves a simple detector nothing in text around any RFC address', () => {
    fc.assert(
      fc.property(fc.string(), fc.emailAddress(), fc.string(), (before, email, after) => {
        expect(redact(`${before} ${email} ${after}`).text).not.toMatch(EMAIL);
      }),
      { numRuns: 500 },
    );
  });

  it('masks a usual address entirely, wherever it sits', () => {
    const local = fc.stringMatching(/^[a-z0-9][a-z0-9._%+-]{0,30}$/);
    fc.assert(
      fc.property(fc.string(), local, fc.domain(), fc.string(), (before, name, domain, after) => {
        const email = `${name}@${domain}`;
        expect(redact(`${before} ${email} ${after}`).text).not.toContain(email);
      }),
      { numRuns: 500 },
    );
  });
});

describe('redact (found by the properties)', () => {
  it('masks an address that starts where the previous one ended', () => {
    expect(redact('a@example.com.@example.com').text).toBe('[EMAIL][EMAIL]');
  });
});
