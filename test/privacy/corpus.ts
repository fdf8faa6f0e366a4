/**
 * A corpus of secrets and PII, each in a sentence, and the encodings they
 * travel in. Secrets are generated from a seeded generator at load time (so no
 * live-looking token sits in the source for a scanner to trip on, and runs are
 * reproducible). Shared by the redaction unit tests and the end-to-end privacy
 * test.
 */

/** A seeded PRNG (mulberry32). */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = generator(20_260_214);
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
const ALNUM = UPPER + LOWER + DIGITS;
const HEX = '0123456789abcdef';
const B64 = `${ALNUM}+/`;
const URLSAFE = `${ALNUM}_-`;

/** `length` characters of `alphabet`, with at least one upper, lower and digit where the alphabet has them. */
function chars(alphabet: string, length: number): string {
  for (;;) {
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[Math.floor(random() * alphabet.length)];
    const needs = [UPPER, LOWER, DIGITS].filter((set) => [...set].some((c) => alphabet.includes(c)));
    if (length < 8 || needs.every((set) => [...out].some((c) => set.includes(c)))) return out;
  }
}

const b64 = (text: string): string => Buffer.from(text).toString('base64');
const b64url = (text: string): string => Buffer.from(text).toString('base64url');

export type Sensitivity = 'secret' | 'pii';

export interface CorpusEntry {
  name: string;
  sensitivity: Sensitivity;
  /** What must not survive, in any encoding. */
  value: string;
  /** A sentence carrying the value. */
  text: string;
  /** Short enough and shaped to be an identifier (a user id, a scope, an error type). */
  identifier?: boolean;
}

const jwt = [
  b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' })),
  b64url(JSON.stringify({ sub: chars(DIGITS, 10), name: 'Jo Example', iat: 1_700_000_000 })),
  chars(URLSAFE, 43),
].join('.');

const pemBody = Array.from({ length: 6 }, () => chars(B64, 64)).join('\n');
const pem = `-----BEGIN RSA PRIVATE KEY-----\n${pemBody}\n-----END RSA PRIVATE KEY-----`;
const openSshBody = `b3BlbnNzaC1rZXktdjEAAAAA${chars(B64, 40)}\n${chars(B64, 70)}`;
const openSsh = `-----BEGIN OPENSSH PRIVATE KEY-----\n${openSshBody}\n-----END OPENSSH PRIVATE KEY-----`;
const gcpKeyBody = `MIIEvQIBADANBgkqhkiG9w0BAQEFAASC${chars(B64, 40)}`;
const gcpJson = JSON.stringify({
  type: 'service_account',
  project_id: 'demo-project',
  private_key_id: chars(HEX, 40),
  private_key: `-----BEGIN PRIVATE KEY-----\n${gcpKeyBody}\n${chars(B64, 64)}\n-----END PRIVATE KEY-----\n`,
  client_email: 'robot@demo-project.iam.gserviceaccount.com',
});

const pass = (): string => `${chars(ALNUM, 10)}!${chars(DIGITS, 2)}`;

function secrets(): CorpusEntry[] {
  const s = (name: string, value: string, text: (v: string) => string, identifier = false): CorpusEntry => ({
    name,
    sensitivity: 'secret',
    value,
    text: text(value),
    identifier,
  });
  const awsId = `AKIA${chars(UPPER + DIGITS, 16)}`;
  const pgPass = pass();
  const mongoPass = pass();
  const redisPass = pass();
  const amqpPass = pass();
  const adoPass = pass();
  const jdbcPass = pass();
  const basicPass = pass();
  const genericPass = pass();
  return [
    s('AWS access key id', awsId, (v) => `use access key ${v} for the bucket`, true),
    s('AWS secret access key', chars(B64, 40), (v) => `the aws secret is ${v} keep it safe`),
    s('AWS secret after its key id', chars(B64, 40), (v) => `creds: ${awsId} ${v}`),
    s('GCP service account private key', gcpKeyBody, () => `service account: ${gcpJson}`),
    s('GCP API key', `AIza${chars(URLSAFE, 35)}`, (v) => `maps key ${v} here`, true),
    s(
      'Azure storage AccountKey',
      `${chars(B64, 86)}==`,
      (v) => `DefaultEndpointsProtocol=https;AccountName=demoacct;AccountKey=${v};EndpointSuffix=core.windows.net`,
    ),
    s(
      'Azure SAS sig',
      `${chars(ALNUM, 43)}%3D`,
      (v) => `https://demoacct.blob.core.windows.net/c/report.pdf?sv=2022-11-02&ss=b&srt=o&sp=r&sig=${v}`,
    ),
    s('GitHub ghp_', `ghp_${chars(ALNUM, 36)}`, (v) => `git token ${v}`, true),
    s('GitHub gho_', `gho_${chars(ALNUM, 36)}`, (v) => `oauth ${v}`, true),
    s('GitHub ghu_', `ghu_${chars(ALNUM, 36)}`, (v) => `user-to-server ${v}`),
    s('GitHub ghs_', `ghs_${chars(ALNUM, 36)}`, (v) => `app token ${v}`),
    s('GitHub ghr_', `ghr_${chars(ALNUM, 36)}`, (v) => `refresh ${v}`),
    s('GitHub fine-grained PAT', `github_pat_${chars(ALNUM, 22)}_${chars(ALNUM, 59)}`, (v) => `pat ${v}`),
    s('GitLab PAT', `glpat-${chars(URLSAFE, 20)}`, (v) => `gitlab ${v}`, true),
    s(
      'Slack bot token',
      `xoxb-${chars(DIGITS, 12)}-${chars(DIGITS, 13)}-${chars(ALNUM, 24)}`,
      (v) => `slack ${v}`,
      true,
    ),
    s(
      'Slack user token',
      `xoxp-${chars(DIGITS, 12)}-${chars(DIGITS, 12)}-${chars(DIGITS, 13)}-${chars(HEX, 32)}`,
      (v) => `${v}`,
    ),
    s(
      'Slack webhook',
      `T${chars(UPPER + DIGITS, 8)}/B${chars(UPPER + DIGITS, 10)}/${chars(ALNUM, 24)}`,
      (v) => `post to https://hooks.slack.com/services/${v} please`,
    ),
    s('Discord bot token', `M${chars(ALNUM, 23)}.${chars(URLSAFE, 6)}.${chars(URLSAFE, 27)}`, (v) => `bot token ${v}`),
    s('Telegram bot token', `${chars(DIGITS, 10)}:AA${chars(URLSAFE, 33)}`, (v) => `telegram ${v}`),
    s('Stripe secret key', `sk_live_${chars(ALNUM, 24)}`, (v) => `stripe ${v}`, true),
    s('Stripe restricted key', `rk_live_${chars(ALNUM, 24)}`, (v) => `restricted ${v}`),
    s('Stripe publishable key', `pk_live_${chars(ALNUM, 24)}`, (v) => `publishable ${v}`),
    s('OpenAI key', `sk-${chars(ALNUM, 20)}T3BlbkFJ${chars(ALNUM, 20)}`, (v) => `OPENAI_API_KEY ${v}`, true),
    s('OpenAI project key', `sk-proj-${chars(URLSAFE, 64)}`, (v) => `key ${v}`),
    s('Anthropic key', `sk-ant-api03-${chars(URLSAFE, 93)}AA`, (v) => `claude ${v}`, true),
    s('Groq key', `gsk_${chars(ALNUM, 52)}`, (v) => `groq ${v}`),
    s('Mistral key', chars(ALNUM, 32), (v) => `mistral api key ${v}`),
    s('Cohere key', chars(ALNUM, 40), (v) => `cohere: ${v}`),
    s('Hugging Face token', `hf_${chars(ALNUM, 34)}`, (v) => `hub ${v}`, true),
    s('Replicate token', `r8_${chars(ALNUM, 37)}`, (v) => `replicate ${v}`),
    s('Basic auth header', b64(`svc-user:${basicPass}`), (v) => `Authorization: Basic ${v}`),
    s('Bearer header', `${chars(URLSAFE, 40)}`, (v) => `Authorization: Bearer ${v}`, true),
    s('JWT', jwt, (v) => `session ${v}`, true),
    s('Postgres URL password', pgPass, (v) => `postgres://app:${v}@db.internal:5432/orders`),
    s('MongoDB SRV password', mongoPass, (v) => `mongodb+srv://admin:${v}@cluster0.example.mongodb.net/test`),
    s('Redis password', redisPass, (v) => `redis://:${v}@cache.internal:6379/0`),
    s('AMQP password', amqpPass, (v) => `amqp://guest:${v}@mq.internal:5672/vhost`),
    s('ADO.NET Password=', adoPass, (v) => `Server=tcp:db.internal,1433;Database=app;User Id=sa;Password=${v};`),
    s('JDBC password', jdbcPass, (v) => `jdbc:mysql://db.internal:3306/app?user=app&password=${v}`),
    s('PEM private key', pemBody.split('\n')[2]!, () => pem),
    s('OpenSSH private key', openSshBody.split('\n')[1]!, () => openSsh),
    s('password= assignment', genericPass, (v) => `login with password=${v} now`, false),
    s('secret: assignment', chars(ALNUM, 24), (v) => `client_secret: ${v}`, false),
    s('token= assignment', chars(ALNUM, 28), (v) => `token=${v}`, false),
    s('api_key JSON', chars(ALNUM, 32), (v) => `{"api_key": "${v}"}`),
  ];
}

function pii(): CorpusEntry[] {
  const p = (name: string, value: string, text: (v: string) => string, identifier = true): CorpusEntry => ({
    name,
    sensitivity: 'pii',
    value,
    text: text(value),
    identifier,
  });
  return [
    p('email', 'jane.roe+ai@example-corp.com', (v) => `mail ${v} today`),
    p('email, upper case', 'John.Smith@Example.ORG', (v) => `from ${v}`),
    p('phone UK', '+44 20 7946 0958', (v) => `call ${v} now`),
    p('phone UK with (0)', '+44 (0)20 7946 0958', (v) => `call ${v} now`),
    p('phone DE', '+49 30 123456', (v) => `Tel. ${v}`),
    p('phone DE 00', '0049 30 1234567', (v) => `Tel ${v}`),
    p('phone DE national', '030 1234567', (v) => `Telefon: ${v}`),
    p('phone FR', '+33 1 42 68 53 00', (v) => `appelez ${v}`),
    p('phone US', '+1 (415) 555-0132', (v) => `ring ${v}`),
    p('phone US national', '415-555-0175', (v) => `ring ${v}`),
    p('phone E.164', '+4915112345678', (v) => `sms ${v}`),
    p('IBAN DE spaced', 'DE89 3704 0044 0532 0130 00', (v) => `IBAN ${v}`),
    p('IBAN GB compact', 'GB82WEST12345698765432', (v) => `pay to ${v}`),
    p('IBAN lowercase', 'fr1420041010050500013m02606', (v) => `iban ${v}`),
    p('IBAN NL dashed', 'NL91-ABNA-0417-1643-00', (v) => `account ${v}`),
    p('US SSN', '219-09-9999', (v) => `ssn ${v}`),
    p('card Visa spaced', '4111 1111 1111 1111', (v) => `card ${v} exp 12/29`),
    p('card Visa dotted', '4111.1111.1111.1111', (v) => `card ${v}`),
    p('card Mastercard dashed', '5555-5555-5555-4444', (v) => `mc ${v}`),
    p('card Amex compact', '378282246310005', (v) => `amex ${v}`),
    p('IPv4', '203.0.113.77', (v) => `from ${v}`, false),
  ];
}

export const CORPUS: readonly CorpusEntry[] = [...secrets(), ...pii()];

/** The encodings a value travels in; each turns a sentence into what a span attribute carries. */
export const ENCODINGS: Record<string, (text: string) => string> = {
  plain: (text) => text,
  json: (text) => JSON.stringify({ message: text }),
  'json-in-json': (text) => JSON.stringify({ body: JSON.stringify({ message: text }) }),
  'json-in-json-in-json': (text) =>
    JSON.stringify({ event: JSON.stringify({ body: JSON.stringify({ message: text }) }) }),
  'url-encoded': (text) => `https://api.example.com/v1/search?q=${encodeURIComponent(text)}&page=2`,
  'form-encoded': (text) =>
    `https://api.example.com/v1/search?${new URLSearchParams({ q: text, page: '2' }).toString()}`,
  'url in JSON': (text) => JSON.stringify({ url: `https://x.example/?q=${encodeURIComponent(text)}` }),
  'HTML entities': (text) => text.replace(/[@:=./+-]/g, (c) => `&#${c.charCodeAt(0)};`),
  'zero-width': (text) => text.replace(/(\S)(?=\S)/g, (c) => `${c}\u200b`),
};

/** Spelling variants of a PII value: spaced, dotted, dashed, compact, lower and upper case. */
export function variants(entry: CorpusEntry): string[] {
  if (entry.sensitivity !== 'pii' || entry.name.startsWith('email') || entry.name === 'IPv4') return [entry.value];
  const compact = entry.value.replace(/[^A-Za-z0-9+]/g, '');
  const out = new Set([entry.value]);
  if (/^(card|IBAN)/.test(entry.name)) {
    const groups = compact.replace(/^\+/, '').match(/.{1,4}/g) ?? [];
    out.add(groups.join(' ')).add(groups.join('.')).add(groups.join('-')).add(compact);
    out.add(compact.toLowerCase()).add(groups.join(' ').toLowerCase());
  }
  return [...out];
}

/**
 * Forms in which a value would still be readable in stored text: as is, its
 * alphanumeric core (for numbers grouped differently), JSON-escaped once and
 * twice, URL- and form-encoded.
 */
export function readableForms(value: string): string[] {
  const forms = new Set([value, encodeURIComponent(value), new URLSearchParams({ v: value }).toString().slice(2)]);
  const once = JSON.stringify(value).slice(1, -1);
  forms.add(once).add(JSON.stringify(once).slice(1, -1));
  return [...forms].filter((form) => form.length >= 6);
}

/** The value's letters and digits only, lower-cased: found in a text's letters and digits, it leaked however spelled. */
export function core(value: string): string {
  return value.replace(/[^A-Za-z0-9]/g, '').toLowerCase();
}
