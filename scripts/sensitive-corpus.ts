/**
 * Writes the labeled sensitive-data corpus, test/corpus/sensitive/<lang>.jsonl:
 * `node scripts/sensitive-corpus.ts` (seeded: the same files every run).
 *
 * Each text is built from a document shape (a support email, a log excerpt, a
 * stack trace, a config file, a curl command, a CSV export, a JSON tool result,
 * a form, a chat thread, a code snippet, a diff, a tool call's arguments ...)
 * with its human parts in the text's language (scripts/sensitive-corpus-text.ts)
 * and synthetic values (scripts/sensitive-corpus-values.ts): checksum-valid where
 * a positive needs it, checksum-invalid in the look-alikes among the negatives.
 * A row's label and kinds come from what the generator put in, never from the
 * detector. See test/corpus/sensitive/README.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  aadhaar,
  card,
  codiceFiscale,
  cpf,
  dni,
  fold,
  iban,
  labelledOnlyPhone,
  LANGS,
  lookalike,
  nino,
  nir,
  person,
  phone,
  privateIp,
  publicIp,
  Rng,
  secret,
  sin,
  ssn,
  steuerId,
  type Lang,
  type Person,
} from './sensitive-corpus-values.ts';
import {
  ASK_DEBUG,
  BENIGN_ASK,
  BENIGN_PROSE,
  CLOSING,
  COMPLETION_LEAD,
  COMPLETION_SECRET_LEAD,
  COMPLETION_SECRET_TAIL,
  GREETING,
  ID_SENTENCE,
  ISSUE,
  LABEL,
  LOG_MSG,
  STREET,
} from './sensitive-corpus-text.ts';

type Channel = 'user_prompt' | 'tool_output' | 'retrieved_doc' | 'completion' | 'tool_arguments';

interface Row {
  id: string;
  lang: Lang;
  channel: Channel;
  label: 'sensitive' | 'benign';
  kinds: string[];
  shape: string;
  text: string;
}

interface Value {
  kind: string;
  text: string;
}

interface Made {
  text: string;
  channel: Channel;
  kinds: string[];
}

const OUT = join(import.meta.dirname, '../test/corpus/sensitive');
const rng = new Rng(20_260_321);

// ---------------------------------------------------------------- values

/** A PII value of the language's country, labelled in that language. */
function piiValue(lang: Lang, p: Person, kinds?: readonly string[]): Value & { label: string } {
  const L = LABEL[lang];
  const national: Record<Lang, () => Value & { label: string }> = {
    en: () =>
      rng.pick([
        () => ({ kind: 'uk_nino', label: 'NI number', text: nino(rng, rng.chance(0.5)) }),
        () => ({ kind: 'us_ssn', label: 'SSN', text: ssn(rng) }),
        () => ({ kind: 'ca_sin', label: 'SIN', text: sin(rng) }),
        () => ({ kind: 'in_aadhaar', label: 'Aadhaar', text: aadhaar(rng) }),
      ])(),
    de: () => ({
      kind: 'de_tax_id',
      label: rng.pick(['Steuer-ID', 'Steuerliche IdNr.', 'Steueridentifikationsnummer']),
      text: steuerId(rng),
    }),
    fr: () =>
      rng.chance(0.8)
        ? { kind: 'fr_nir', label: rng.pick(['N° de sécurité sociale', 'NIR', 'Numéro de sécu']), text: nir(rng) }
        : { kind: 'ca_sin', label: "NAS (numéro d'assurance sociale)", text: sin(rng) },
    es: () => ({ kind: 'es_dni', label: rng.pick(['DNI', 'NIE', 'DNI/NIE']), text: dni(rng) }),
    pt: () => ({ kind: 'br_cpf', label: 'CPF', text: cpf(rng, true, rng.chance(0.75)) }),
    it: () => ({
      kind: 'it_codice_fiscale',
      label: rng.pick(['Codice fiscale', 'C.F.', 'CF']),
      text: codiceFiscale(rng),
    }),
  };
  const country: Record<Lang, string> = { en: 'GB', de: 'DE', fr: 'FR', es: 'ES', pt: 'PT', it: 'IT' };
  const options: Record<string, () => Value & { label: string }> = {
    email: () => ({ kind: 'email', label: L.email!, text: p.email }),
    phone: () => ({ kind: 'phone', label: L.phone!, text: phone(rng, lang) }),
    iban: () => ({
      kind: 'iban',
      label: L.iban!,
      text: iban(rng, rng.chance(0.8) ? country[lang] : rng.pick(['NL', 'BE', 'DE'])),
    }),
    credit_card: () => ({ kind: 'credit_card', label: L.card!, text: card(rng).text }),
    national: national[lang],
    ipv4: () => ({ kind: 'ipv4', label: 'IP', text: publicIp(rng) }),
  };
  const key = kinds
    ? rng.pick(kinds)
    : rng.pick(['email', 'phone', 'iban', 'credit_card', 'national', 'national', 'email']);
  return options[key]!();
}

/** A secret and a name it would go by in a config file. */
function secretValue(): Value & { name: string } {
  const options: (() => Value & { name: string })[] = [
    () => ({ kind: 'aws_access_key', name: 'AWS_ACCESS_KEY_ID', text: secret.aws(rng) }),
    () => ({ kind: 'github_token', name: 'GITHUB_TOKEN', text: secret.github(rng) }),
    () => ({ kind: 'gitlab_token', name: 'GITLAB_TOKEN', text: secret.gitlab(rng) }),
    () => ({ kind: 'openai_api_key', name: 'OPENAI_API_KEY', text: secret.openai(rng) }),
    () => ({ kind: 'anthropic_api_key', name: 'ANTHROPIC_API_KEY', text: secret.anthropic(rng) }),
    () => ({ kind: 'slack_token', name: 'SLACK_BOT_TOKEN', text: secret.slack(rng) }),
    () => ({ kind: 'stripe_key', name: 'STRIPE_SECRET_KEY', text: secret.stripe(rng) }),
    () => ({ kind: 'google_api_key', name: 'GOOGLE_MAPS_KEY', text: secret.google(rng) }),
    () => ({ kind: 'huggingface_token', name: 'HF_TOKEN', text: secret.hf(rng) }),
    () => ({ kind: 'groq_api_key', name: 'GROQ_API_KEY', text: secret.groq(rng) }),
    () => ({ kind: 'api_token', name: 'NPM_TOKEN', text: secret.npm(rng) }),
    () => ({ kind: 'telegram_token', name: 'TELEGRAM_BOT_TOKEN', text: secret.telegram(rng) }),
    () => ({ kind: 'jwt', name: 'SESSION_JWT', text: secret.jwt(rng) }),
    () => ({ kind: 'password', name: 'DB_PASSWORD', text: secret.password(rng) }),
    () => ({
      kind: 'credential',
      name: rng.pick(['CLIENT_SECRET', 'WEBHOOK_SECRET', 'INTERNAL_API_KEY']),
      text: secret.token(rng),
    }),
  ];
  return rng.pick(options)();
}

// ---------------------------------------------------------------- noise

const iso = (): string =>
  new Date(
    Date.UTC(2025, rng.int(0, 11), rng.int(1, 28), rng.int(0, 23), rng.int(0, 59), rng.int(0, 59), rng.int(0, 999)),
  ).toISOString();

const svc = (): string =>
  rng.pick(['checkout', 'billing-api', 'auth', 'orders', 'gateway', 'search', 'notifier', 'etl-worker', 'crm-sync']);
const host = (): string =>
  rng.pick(['db.internal', 'postgres-primary.svc.cluster.local', 'mysql-01.prod', 'cache.internal', 'mq.internal']);

function logLine(lang: Lang, extra = ''): string {
  const level = rng.pick(['INFO', 'INFO', 'DEBUG', 'WARN', 'ERROR']);
  const style = rng.int(0, 2);
  const msg = rng.pick(LOG_MSG[lang]);
  const fields = [
    `request_id=${lookalike.uuid(rng)}`,
    `duration_ms=${rng.int(2, 4000)}`,
    rng.chance(0.4) ? `peer=${privateIp(rng)}` : `status=${rng.pick([200, 201, 204, 400, 404, 500, 503])}`,
    rng.chance(0.3) ? `version=${lookalike.version(rng)}` : `trace=${rng.chars('0123456789abcdef', 32)}`,
  ];
  if (style === 0)
    return `${iso()} ${level} [${svc()}] ${msg} ${rng.some(fields, 1, 3).join(' ')}${extra ? ` ${extra}` : ''}`;
  if (style === 1)
    return JSON.stringify({
      ts: iso(),
      level: level.toLowerCase(),
      svc: svc(),
      msg,
      ...Object.fromEntries(rng.some(fields, 1, 3).map((f) => f.split('='))),
      ...(extra ? { detail: extra } : {}),
    });
  return `[${iso().replace('T', ' ').slice(0, 23)}] ${level.padEnd(5)} ${svc()}: ${msg}${extra ? ` — ${extra}` : ''} (${rng.some(fields, 1, 2).join(', ')})`;
}

// ---------------------------------------------------------------- positive shapes

type Shape = (lang: Lang) => Made;

const positive: Record<string, Shape> = {
  supportEmail(lang) {
    const p = person(rng, lang);
    const L = LABEL[lang];
    const values = [
      piiValue(lang, p, ['phone', 'iban', 'national', 'credit_card']),
      ...(rng.chance(0.5) ? [piiValue(lang, p)] : []),
    ];
    const unique = values.filter((v, i) => values.findIndex((w) => w.kind === v.kind) === i);
    const block = unique.map((v) => `${v.label}: ${v.text}`);
    if (rng.chance(0.5)) block.unshift(`${L.address}: ${rng.pick(STREET[lang])}`);
    const sig = rng.chance(0.5) ? `\n${p.first} ${p.last}\n${p.email}` : `\n${p.first} ${p.last}`;
    const kinds = unique.map((v) => v.kind);
    if (sig.includes('@')) kinds.push('email');
    const subject = rng.chance(0.5)
      ? `Subject: ${rng.pick(ISSUE[lang]).slice(0, 40)}…\nFrom: ${p.first} ${p.last}\n\n`
      : '';
    return {
      text: `${subject}${rng.pick(GREETING[lang])}\n\n${cap(rng.pick(ISSUE[lang]))}\n\n${block.join('\n')}\n\n${rng.pick(CLOSING[lang])}${sig}`,
      channel: rng.pick(['retrieved_doc', 'tool_output', 'user_prompt']),
      kinds,
    };
  },

  ticketJson(lang) {
    const p = person(rng, lang);
    const v = piiValue(lang, p);
    const ticket: Record<string, unknown> = {
      id: `TCK-${rng.int(10000, 99999)}`,
      status: rng.pick(['open', 'pending', 'escalated']),
      created: iso(),
      requester: { name: `${p.first} ${p.last}`, ...(v.kind === 'email' ? { email: v.text } : {}) },
      subject: rng.pick(ISSUE[lang]).slice(0, 60),
      body: v.kind === 'email' ? rng.pick(ISSUE[lang]) : `${rng.pick(ISSUE[lang])} ${v.label}: ${v.text}`,
      tags: rng.some(['billing', 'refund', 'address', 'priority', 'vip'], 1, 3),
    };
    return {
      text: JSON.stringify(ticket, null, rng.chance(0.5) ? 2 : undefined),
      channel: 'tool_output',
      kinds: [v.kind],
    };
  },

  shortPrompt(lang) {
    const p = person(rng, lang);
    const v = piiValue(lang, p, ['national', 'national', 'iban', 'credit_card', 'phone']);
    const forms: Record<Lang, string[]> = {
      en: [
        `my ${v.label} is ${v.text}, can you fill in the form for me?`,
        `Is ${v.text} a valid ${v.label}?`,
        `${v.label} ${v.text} — please add it to my profile`,
      ],
      de: [
        `meine ${v.label} ist ${v.text}, kannst du das Formular ausfüllen?`,
        `Ist ${v.text} eine gültige ${v.label}?`,
        `Trag bitte ${v.label} ${v.text} in mein Profil ein`,
      ],
      fr: [
        `mon ${v.label} est ${v.text}, tu peux remplir le formulaire ?`,
        `Est-ce que ${v.text} est un ${v.label} valide ?`,
        `Ajoute ${v.label} ${v.text} à mon dossier stp`,
      ],
      es: [
        `mi ${v.label} es ${v.text}, ¿puedes rellenar el formulario?`,
        `¿Es ${v.text} un ${v.label} válido?`,
        `Añade ${v.label} ${v.text} a mi perfil`,
      ],
      pt: [
        `o meu ${v.label} é ${v.text}, podes preencher o formulário?`,
        `${v.text} é um ${v.label} válido?`,
        `Adiciona ${v.label} ${v.text} ao meu perfil`,
      ],
      it: [
        `il mio ${v.label} è ${v.text}, puoi compilare il modulo?`,
        `${v.text} è un ${v.label} valido?`,
        `Aggiungi ${v.label} ${v.text} al mio profilo`,
      ],
    };
    return { text: rng.pick(forms[lang]), channel: 'user_prompt', kinds: [v.kind] };
  },

  pastedEnv(lang) {
    const s = rng.some([secretValue(), secretValue(), secretValue()], 1, 2);
    const lines = [
      `NODE_ENV=${rng.pick(['production', 'staging'])}`,
      `PORT=${rng.pick([3000, 8080, 8443])}`,
      `LOG_LEVEL=${rng.pick(['info', 'debug'])}`,
      `DATABASE_HOST=${host()}`,
      ...s.map((v) => `${v.name}=${v.text}`),
      `FEATURE_FLAGS=${rng.some(['beta', 'new-checkout', 'dark-mode'], 1, 3).join(',')}`,
    ];
    const body = rng.shuffle(lines).join('\n');
    return {
      text: `${rng.pick(ASK_DEBUG[lang])}\n\n\`\`\`\n${body}\n\`\`\``,
      channel: 'user_prompt',
      kinds: uniq(s.map((v) => v.kind)),
    };
  },

  yamlConfig(lang) {
    const v = secretValue();
    const pw = secret.password(rng);
    const comment: Record<Lang, string> = {
      en: '# service settings',
      de: '# Dienst-Einstellungen',
      fr: '# paramètres du service',
      es: '# ajustes del servicio',
      pt: '# definições do serviço',
      it: '# impostazioni del servizio',
    };
    const withDb = rng.chance(0.5);
    const text = [
      comment[lang],
      `service:`,
      `  name: ${svc()}`,
      `  replicas: ${rng.int(1, 6)}`,
      `  image: registry.example.com/${svc()}:${lookalike.version(rng)}`,
      ...(withDb ? [`database:`, `  host: ${host()}`, `  port: 5432`, `  user: app`, `  password: "${pw}"`] : []),
      `integrations:`,
      `  ${v.name.toLowerCase()}: ${v.text}`,
      `  timeout_seconds: ${rng.int(5, 60)}`,
    ].join('\n');
    return {
      text,
      channel: rng.pick(['retrieved_doc', 'user_prompt', 'tool_output']),
      kinds: uniq([...(withDb ? ['password'] : []), v.kind]),
    };
  },

  k8sSecret() {
    const token = secret.token(rng);
    const pw = secret.password(rng);
    const text = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${svc()}-credentials\n  namespace: ${rng.pick(['prod', 'payments', 'default'])}\ntype: Opaque\nstringData:\n  DB_PASSWORD: "${pw}"\n  API_TOKEN: "${token}"\n`;
    return { text, channel: rng.pick(['retrieved_doc', 'tool_output']), kinds: ['password', 'credential'] };
  },

  stackTrace() {
    const pw = secret.password(rng).replace(/[@:/#?%]/g, 'x');
    const scheme = rng.pick(['postgresql', 'mysql', 'mongodb+srv', 'redis', 'amqp']);
    const url = `${scheme}://${rng.pick(['app', 'admin', 'etl', 'svc_orders'])}:${pw}@${host()}:${rng.pick([5432, 3306, 6379, 5672])}/${rng.pick(['orders', 'app', 'analytics'])}`;
    const lang = rng.pick(['py', 'java', 'node']);
    const text =
      lang === 'py'
        ? `Traceback (most recent call last):\n  File "/srv/app/db.py", line ${rng.int(10, 300)}, in connect\n    engine = create_engine(settings.url)\n  File "/usr/lib/python3.12/site-packages/sqlalchemy/engine/create.py", line 602, in create_engine\n    raise exc.ArgumentError(\nsqlalchemy.exc.OperationalError: could not connect to server: Connection refused (url=${url})`
        : lang === 'java'
          ? `Exception in thread "main" java.sql.SQLException: Cannot open connection ${url}\n\tat com.example.db.Pool.open(Pool.java:${rng.int(20, 200)})\n\tat com.example.App.main(App.java:${rng.int(10, 90)})\nCaused by: java.net.ConnectException: Connection refused`
          : `Error: connect ECONNREFUSED ${privateIp(rng)}:${rng.pick([5432, 6379])}\n    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1607:16)\n    at Pool.connect (/app/node_modules/pg-pool/index.js:${rng.int(40, 300)}:11) {\n  connectionString: '${url}'\n}`;
    return { text, channel: 'tool_output', kinds: ['connection_string'] };
  },

  logLeak(lang) {
    const p = person(rng, lang);
    const leak = rng.pick([
      (): Value => ({ kind: 'email', text: `user=${p.email}` }),
      (): Value => ({ kind: 'ipv4', text: `client_ip=${publicIp(rng)}` }),
      (): Value => ({ kind: 'bearer_token', text: `headers={"Authorization": "Bearer ${secret.bearer(rng)}"}` }),
      (): Value => ({ kind: 'jwt', text: `token=${secret.jwt(rng)}` }),
      (): Value => ({ kind: 'credit_card', text: `pan=${card(rng).digits}` }),
      (): Value => ({ kind: 'phone', text: `sms_to=${phone(rng, lang).replace(/ /g, '')}` }),
    ])();
    const n = rng.int(2, 10);
    const at = rng.int(0, n - 1);
    const lines = Array.from({ length: n }, (_, i) => logLine(lang, i === at ? leak.text : ''));
    return { text: lines.join('\n'), channel: 'tool_output', kinds: [leak.kind] };
  },

  curl() {
    const v = rng.pick([
      (): Value => ({ kind: 'bearer_token', text: `-H "Authorization: Bearer ${secret.bearer(rng)}"` }),
      (): Value => ({ kind: 'openai_api_key', text: `-H "Authorization: Bearer ${secret.openai(rng)}"` }),
      (): Value => ({ kind: 'anthropic_api_key', text: `-H "x-api-key: ${secret.anthropic(rng)}"` }),
      (): Value => ({ kind: 'basic_auth', text: `-H 'Authorization: Basic ${secret.basic(rng)}'` }),
      (): Value => ({
        kind: 'google_api_key',
        text: `"https://maps.example.com/api/geocode/json?address=Lyon&key=${secret.google(rng)}"`,
      }),
      (): Value => ({ kind: 'stripe_key', text: `-u ${secret.stripe(rng)}:` }),
    ])();
    const url = v.text.includes('https://')
      ? ''
      : ` https://api.example.com/v${rng.int(1, 3)}/${rng.pick(['messages', 'charges', 'items', 'reports'])}`;
    const body = rng.chance(0.5)
      ? ` \\\n  -H "Content-Type: application/json" \\\n  -d '{"limit": ${rng.int(1, 100)}}'`
      : '';
    const text = `curl -sS${url} \\\n  ${v.text}${body}`;
    return { text, channel: rng.pick(['user_prompt', 'completion', 'retrieved_doc', 'tool_output']), kinds: [v.kind] };
  },

  csvExport(lang) {
    const L = LABEL[lang];
    const col = rng.pick(['phone', 'iban', 'national', 'email']);
    const n = rng.int(2, 7);
    const rows: string[] = [];
    const kinds = new Set<string>();
    const first = piiValue(lang, person(rng, lang), [col === 'email' ? 'phone' : col]);
    const header = [L.name, L.email, col === 'national' ? first.label : L[col === 'email' ? 'customer' : col]];
    for (let i = 0; i < n; i++) {
      const p = person(rng, lang);
      let v: Value =
        col === 'email' ? { kind: 'email', text: String(rng.int(100000, 999999)) } : piiValue(lang, p, [col]);
      // One national identifier per export, the one its header names.
      if (col === 'national') while (v.kind !== first.kind) v = piiValue(lang, p, [col]);
      if (col !== 'email') kinds.add(v.kind);
      rows.push([`${p.first} ${p.last}`, p.email, v.text].join(rng.pick([',', ';'])));
    }
    kinds.add('email');
    return {
      text: [header.join(','), ...rows].join('\n'),
      channel: rng.pick(['tool_output', 'retrieved_doc']),
      kinds: [...kinds],
    };
  },

  crmJson(lang) {
    const p = person(rng, lang);
    const v = piiValue(lang, p, ['phone', 'iban', 'national', 'credit_card', 'ipv4']);
    const record = {
      ok: true,
      result: {
        customer_id: `C-${rng.int(100000, 999999)}`,
        name: `${p.first} ${p.last}`,
        [rng.pick(['email', 'contact_email'])]: p.email,
        [v.kind === 'ipv4' ? 'last_login_ip' : v.kind]: v.text,
        since: iso().slice(0, 10),
        segment: rng.pick(['smb', 'enterprise', 'consumer']),
      },
    };
    return { text: JSON.stringify(record), channel: 'tool_output', kinds: uniq(['email', v.kind]) };
  },

  form(lang) {
    const p = person(rng, lang);
    const L = LABEL[lang];
    const nat = piiValue(lang, p, ['national']);
    const lines = [
      `${L.name}: ${p.first} ${p.last}`,
      `${L.dob}: ${rng.int(1, 28)}.${rng.int(1, 12)}.${rng.int(1960, 2002)}`,
      `${L.address}: ${rng.pick(STREET[lang])}`,
      `${nat.label}: ${nat.text}`,
    ];
    const kinds = [nat.kind];
    if (rng.chance(0.6)) {
      const b = piiValue(lang, p, ['iban']);
      lines.push(`${b.label}: ${b.text}`);
      kinds.push('iban');
    }
    const title: Record<Lang, string> = {
      en: 'New starter form',
      de: 'Personalbogen – Neueinstellung',
      fr: "Fiche d'embauche",
      es: 'Ficha de alta de empleado',
      pt: 'Ficha de admissão',
      it: 'Scheda nuovo dipendente',
    };
    return {
      text: `${title[lang]}\n${'='.repeat(title[lang].length)}\n${rng.shuffle(lines).join('\n')}`,
      channel: rng.pick(['retrieved_doc', 'tool_output']),
      kinds,
    };
  },

  completionPii(lang) {
    const p = person(rng, lang);
    const L = LABEL[lang];
    const v = piiValue(lang, p, ['phone', 'iban', 'national', 'credit_card']);
    const list = rng.chance(0.5);
    const text = list
      ? `${rng.pick(COMPLETION_LEAD[lang])}\n\n- ${L.name}: ${p.first} ${p.last}\n- ${L.email}: ${p.email}\n- ${v.label}: ${v.text}`
      : `${rng.pick(COMPLETION_LEAD[lang])} ${p.first} ${p.last} (${p.email}), ${v.label} ${v.text}.`;
    return { text, channel: 'completion', kinds: uniq(['email', v.kind]) };
  },

  completionSecret(lang) {
    const v = secretValue();
    const style = rng.int(0, 2);
    const code =
      style === 0
        ? `\`\`\`python\nclient = Client(api_key="${v.text}")\n\`\`\``
        : style === 1
          ? `\`\`\`bash\nexport ${v.name}=${v.text}\n\`\`\``
          : `\`${v.name}=${v.text}\``;
    const kind = style === 0 && v.kind === 'password' ? 'credential' : v.kind;
    return {
      text: `${rng.pick(COMPLETION_SECRET_LEAD[lang])}\n\n${code}\n\n${rng.pick(COMPLETION_SECRET_TAIL[lang])}`,
      channel: 'completion',
      kinds: [kind],
    };
  },

  toolArgs(lang) {
    const p = person(rng, lang);
    const choice = rng.int(0, 5);
    let args: unknown;
    let kinds: string[];
    if (choice === 0) {
      args = {
        to: [p.email],
        subject: rng.pick(ISSUE[lang]).slice(0, 50),
        body: `${rng.pick(GREETING[lang])} ${rng.pick(BENIGN_PROSE[lang])}`,
      };
      kinds = ['email'];
    } else if (choice === 1) {
      const v = piiValue(lang, p, ['national', 'iban', 'phone']);
      args = { action: 'create_customer', customer: { name: `${p.first} ${p.last}`, [v.kind]: v.text, locale: lang } };
      kinds = [v.kind];
    } else if (choice === 2) {
      const v = secretValue();
      args = {
        method: 'POST',
        url: `https://api.example.com/v1/${rng.pick(['sync', 'export', 'jobs'])}`,
        headers: { Authorization: `Bearer ${v.text}` },
      };
      kinds = [v.kind === 'password' || v.kind === 'credential' ? 'bearer_token' : v.kind];
    } else if (choice === 3) {
      const v = secretValue();
      args = {
        command: `export ${v.name}=${v.text} && ./deploy.sh --env ${rng.pick(['prod', 'staging'])}`,
        timeout: rng.int(30, 600),
      };
      kinds = [v.kind];
    } else if (choice === 4) {
      args = {
        sql: `SELECT id, status FROM orders WHERE customer_email = '${p.email}' ORDER BY created_at DESC LIMIT ${rng.int(5, 50)}`,
      };
      kinds = ['email'];
    } else {
      const c = card(rng);
      args = {
        amount: rng.int(500, 90000),
        currency: rng.pick(['EUR', 'USD', 'BRL']),
        card: {
          number: c.text.replace(/ /g, ''),
          exp: `${rng.int(1, 12)}/${rng.int(26, 31)}`,
          holder: `${p.first} ${p.last}`,
        },
      };
      kinds = ['credit_card'];
    }
    return { text: JSON.stringify(args), channel: 'tool_arguments', kinds };
  },

  codeSnippet() {
    const v = secretValue();
    const style = rng.int(0, 3);
    const kind = v.kind === 'password' ? 'password' : v.kind === 'credential' ? 'credential' : v.kind;
    const text =
      style === 0
        ? `import os\nimport requests\n\nAPI_URL = "https://api.example.com/v2"\n${v.name} = "${v.text}"\n\ndef fetch(path):\n    return requests.get(f"{API_URL}/{path}", headers={"X-Token": ${v.name}}, timeout=10)\n`
        : style === 1
          ? `const config = {\n  baseUrl: 'https://api.example.com',\n  retries: ${rng.int(1, 5)},\n  ${camel(v.name)}: '${v.text}',\n};\n\nexport default config;\n`
          : style === 2
            ? `package main\n\nconst ${camel(v.name)} = "${v.text}"\n\nfunc main() {\n\tclient := NewClient(${camel(v.name)})\n\tclient.Run()\n}\n`
            : `[default]\nregion = ${rng.pick(['eu-west-1', 'us-east-1'])}\n${v.name.toLowerCase()} = ${v.text}\noutput = json\n`;
    // A Go or JS constant named like the env var carries a credential only if its name says so.
    const named = /KEY|TOKEN|SECRET|PASSWORD/.test(v.name);
    return { text, channel: rng.pick(['user_prompt', 'retrieved_doc', 'completion']), kinds: [named ? kind : kind] };
  },

  gitDiff() {
    const v = secretValue();
    const text = `diff --git a/config/settings.py b/config/settings.py\nindex ${rng.chars('0123456789abcdef', 7)}..${rng.chars('0123456789abcdef', 7)} 100644\n--- a/config/settings.py\n+++ b/config/settings.py\n@@ -${rng.int(10, 80)},6 +${rng.int(10, 80)},7 @@\n DEBUG = False\n ALLOWED_HOSTS = ["*"]\n-${v.name} = os.environ["${v.name}"]\n+${v.name} = "${v.text}"\n TIME_ZONE = "UTC"\n`;
    return { text, channel: 'tool_output', kinds: [v.kind] };
  },

  privateKey() {
    const text = rng.pick([
      () => `Here is the deploy key for the runner:\n\n${secret.pem(rng)}\n`,
      () =>
        JSON.stringify({
          type: 'service_account',
          project_id: `proj-${rng.int(1000, 9999)}`,
          private_key: `${secret.pem(rng)}\n`,
          client_email: `runner@proj-${rng.int(1000, 9999)}.iam.gserviceaccount.com`,
        }),
      () => `$ cat ~/.ssh/id_ed25519\n${secret.pem(rng)}`,
    ])();
    return {
      text,
      channel: rng.pick(['user_prompt', 'tool_output', 'retrieved_doc']),
      kinds: text.includes('client_email') ? ['private_key', 'email'] : ['private_key'],
    };
  },

  chatThread(lang) {
    const a = person(rng, lang);
    const b = person(rng, lang);
    const pw = secret.password(rng);
    const sentence = rng.pick(ID_SENTENCE.password![lang]).replace('{v}', pw);
    const other = rng.pick(BENIGN_PROSE[lang]);
    const text = [
      `[09:${rng.int(10, 59)}] ${a.first}: ${other}`,
      `[09:${rng.int(10, 59)}] ${b.first}: ${sentence}`,
      `[10:${rng.int(10, 59)}] ${a.first}: 👍`,
    ].join('\n');
    return { text, channel: rng.pick(['retrieved_doc', 'tool_output']), kinds: ['password'] };
  },

  invoice(lang) {
    const p = person(rng, lang);
    const country: Record<Lang, string> = { en: 'GB', de: 'DE', fr: 'FR', es: 'ES', pt: 'PT', it: 'IT' };
    const ib = iban(rng, country[lang]);
    const words: Record<Lang, [string, string, string]> = {
      en: ['Invoice', 'Total due', 'Please pay by bank transfer to'],
      de: ['Rechnung', 'Gesamtbetrag', 'Bitte überweisen Sie den Betrag auf'],
      fr: ['Facture', 'Total à payer', 'Merci de régler par virement sur'],
      es: ['Factura', 'Total a pagar', 'Por favor, paga por transferencia a'],
      pt: ['Fatura', 'Total a pagar', 'Por favor pague por transferência para'],
      it: ['Fattura', 'Totale da pagare', 'Si prega di pagare con bonifico su'],
    };
    const [inv, total, pay] = words[lang];
    const n = rng.int(1, 4);
    const items = Array.from(
      { length: n },
      () =>
        `  ${rng.pick(['Consulting', 'Licence', 'Support', 'Hosting', 'Training'])} ×${rng.int(1, 12)}  ${rng.int(40, 900)},00 €`,
    );
    const text = `${inv} ${rng.int(2025, 2026)}-${rng.int(1000, 9999)}\n${p.company}\n\n${items.join('\n')}\n\n${total}: ${rng.int(100, 9000)},${rng.int(10, 99)} €\n${pay} ${ib} (BIC ${rng.chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ', 6)}XX)`;
    return { text, channel: rng.pick(['retrieved_doc', 'tool_output']), kinds: ['iban'] };
  },

  sqlInsert(lang) {
    const n = rng.int(1, 4);
    const rows = Array.from({ length: n }, () => {
      const p = person(rng, lang);
      return `  (${rng.int(1, 99999)}, '${p.first} ${p.last}', '${p.email}', '${phone(rng, lang)}')`;
    });
    return {
      text: `INSERT INTO customers (id, full_name, email, phone) VALUES\n${rows.join(',\n')};`,
      channel: rng.pick(['tool_output', 'retrieved_doc', 'tool_arguments']),
      kinds: ['email', 'phone'],
    };
  },

  labelledPhone(lang) {
    const p = person(rng, lang);
    const labels: Record<Lang, string[]> = {
      en: ['Phone', 'Mobile', 'Tel.'],
      de: ['Handy', 'Tel.', 'Mobil'],
      fr: ['Tél.', 'Portable', 'Téléphone'],
      es: ['Teléfono', 'Móvil', 'Tel.'],
      pt: ['Telemóvel', 'Celular', 'Telefone', 'WhatsApp'],
      it: ['Cellulare', 'Tel.', 'Telefono'],
    };
    const num = labelledOnlyPhone(rng, lang);
    const text = `${p.first} ${p.last}\n${rng.pick(STREET[lang])}\n${rng.pick(labels[lang])}: ${num}`;
    return { text, channel: rng.pick(['retrieved_doc', 'tool_output', 'user_prompt', 'completion']), kinds: ['phone'] };
  },

  webhook() {
    const url = rng.chance(0.5) ? secret.slackWebhook(rng) : secret.discordWebhook(rng);
    const text = rng.pick([
      `alerting:\n  receivers:\n    - name: oncall\n      webhook_url: ${url}\n`,
      JSON.stringify({ channel: '#deploys', webhook: url, username: 'release-bot' }),
      `Post the build status to ${url} when the pipeline finishes.`,
    ]);
    return {
      text,
      channel: rng.pick(['retrieved_doc', 'tool_arguments', 'user_prompt']),
      kinds: [url.includes('slack') ? 'slack_webhook' : 'discord_webhook'],
    };
  },

  azure() {
    const key = secret.azureKey(rng);
    const text = `DefaultEndpointsProtocol=https;AccountName=${rng.pick(['stprod', 'stanalytics', 'stbackup'])}${rng.int(10, 99)};AccountKey=${key};EndpointSuffix=core.windows.net`;
    return {
      text: rng.chance(0.5) ? text : JSON.stringify({ ConnectionStrings: { Storage: text } }, null, 2),
      channel: rng.pick(['retrieved_doc', 'user_prompt', 'tool_output']),
      kinds: ['azure_key'],
    };
  },

  awsPair() {
    const id = secret.aws(rng);
    const sk = secret.awsSecret(rng);
    const text = rng.pick([
      `[default]\naws_access_key_id = ${id}\naws_secret_access_key = ${sk}\nregion = eu-central-1\n`,
      `aws configure set aws_access_key_id ${id} && aws configure set aws_secret_access_key ${sk}`,
    ]);
    return {
      text,
      channel: rng.pick(['user_prompt', 'tool_arguments', 'retrieved_doc', 'completion']),
      kinds: text.includes(' = ') ? ['aws_access_key', 'credential'] : ['aws_access_key', 'aws_secret_key'],
    };
  },

  /** Positives written to be hard: obfuscated, unlabelled, encoded. Not tuned against the detector. */
  hardPositive(lang) {
    const p = person(rng, lang);
    const pw = secret.password(rng);
    const choice = rng.int(0, 5);
    const local = p.email.split('@')[0]!;
    const domain = p.email.split('@')[1]!;
    const made: [string, string][] = [
      [`${cap(rng.pick(ISSUE[lang]))} ${local} [at] ${domain.replace(/\./g, ' [dot] ')}`, 'email'],
      [`${rng.pick(GREETING[lang])} ${labelledOnlyPhone(rng, lang)} — ${p.first}`, 'phone'],
      [`${rng.pick(ASK_DEBUG[lang])} ssh admin@${privateIp(rng)} → ${pw}`, 'password'],
      [
        `echo ${Buffer.from(`AWS_SECRET_ACCESS_KEY=${secret.awsSecret(rng)}`).toString('base64')} | base64 -d >> ~/.aws/env`,
        'aws_secret_key',
      ],
      [`${LABEL[lang].iban} ${iban(rng, 'DE').replace(/ /g, '/')}`, 'iban'],
      [`${p.first}: ${card(rng).digits.replace(/(\d{4})(?=\d)/g, '$1 / ')}`, 'credit_card'],
    ];
    const [text, kind] = made[choice]!;
    return { text, channel: rng.pick(['user_prompt', 'retrieved_doc', 'tool_output', 'completion']), kinds: [kind] };
  },
};

// ---------------------------------------------------------------- benign shapes

const benign: Record<string, Shape> = {
  question(lang) {
    const ask = rng.pick(BENIGN_ASK[lang]);
    const text = rng.chance(0.4) ? `${ask}\n\n${rng.pick(BENIGN_PROSE[lang])}` : ask;
    return { text, channel: 'user_prompt', kinds: [] };
  },

  answer(lang) {
    const n = rng.int(1, 3);
    return {
      text: rng.some(BENIGN_PROSE[lang], n, n).join('\n\n'),
      channel: rng.pick(['completion', 'retrieved_doc']),
      kinds: [],
    };
  },

  codeWithReferences() {
    const text = rng.pick([
      () =>
        `import os\n\nDB_PASSWORD = os.environ["DB_PASSWORD"]\napi_key = os.getenv("OPENAI_API_KEY")\n\ndef headers(token: str) -> dict:\n    return {"Authorization": f"Bearer {token}"}\n`,
      () =>
        `interface Settings {\n  apiKey: string;\n  password?: string;\n  tokenTtlSeconds: number;\n}\n\nconst token = await auth.getToken();\nconst secret = process.env.WEBHOOK_SECRET;\n`,
      () =>
        `func login(user, password string) error {\n\thash := sha256.Sum256([]byte(password))\n\treturn store.Check(user, hex.EncodeToString(hash[:]))\n}\n`,
      () =>
        `# settings.toml\n[database]\nhost = "${host()}"\nport = 5432\npassword = "\${DB_PASSWORD}"\n\n[auth]\ntoken_ttl = ${rng.int(60, 86400)}\nsecret_key = "{{ vault.auth_secret }}"\n`,
      () => `password: <your-password>\napi_key: YOUR_API_KEY\ntoken: "\${GITHUB_TOKEN}"\n`,
      () =>
        `if (!config.password) throw new Error('password is required');\nconst key = crypto.randomBytes(32);\nlet accessToken = response.access_token;\n`,
      () =>
        `SELECT user_id, count(*) AS logins\nFROM auth_events\nWHERE event = 'password_reset' AND ts > now() - interval '7 days'\nGROUP BY user_id\nORDER BY logins DESC\nLIMIT ${rng.int(5, 100)};`,
    ])();
    return { text, channel: rng.pick(['user_prompt', 'retrieved_doc', 'completion', 'tool_output']), kinds: [] };
  },

  gitLog(lang) {
    const n = rng.int(2, 6);
    const names = [person(rng, lang), person(rng, lang)];
    const entries = Array.from({ length: n }, () => {
      const a = rng.pick(names);
      return `commit ${lookalike.sha1(rng)}\nAuthor: ${a.first} ${a.last}\nDate:   ${new Date(Date.parse(iso())).toUTCString()}\n\n    ${rng.pick(['fix: retry on 503', 'feat: add CSV export', 'chore: bump deps', 'refactor: split billing module', 'docs: update README'])}\n`;
    });
    return { text: entries.join('\n'), channel: 'tool_output', kinds: [] };
  },

  checksums() {
    const files = [
      'app-linux-amd64.tar.gz',
      'app-darwin-arm64.tar.gz',
      'app-windows-amd64.zip',
      'SHA256SUMS.sig',
      'model.safetensors',
    ];
    const kind = rng.int(0, 2);
    const text =
      kind === 0
        ? rng
            .some(files, 2, 5)
            .map((f) => `${lookalike.sha256(rng)}  ${f}`)
            .join('\n')
        : kind === 1
          ? rng
              .some(files, 2, 4)
              .map((f) => `MD5 (${f}) = ${lookalike.md5(rng)}`)
              .join('\n')
          : `$ docker pull registry.example.com/${svc()}:${lookalike.version(rng)}\n${lookalike.version(rng)}: Pulling from ${svc()}\nDigest: sha256:${lookalike.sha256(rng)}\nStatus: Downloaded newer image`;
    return { text, channel: 'tool_output', kinds: [] };
  },

  logsBenign(lang) {
    const n = rng.int(3, 14);
    return { text: Array.from({ length: n }, () => logLine(lang)).join('\n'), channel: 'tool_output', kinds: [] };
  },

  base64Image() {
    const blob = lookalike.base64Blob(rng, rng.int(60, 600));
    const text = rng.pick([
      `<img alt="chart" src="data:image/png;base64,${blob}">`,
      JSON.stringify({ type: 'image', mime: 'image/jpeg', data: blob }),
      `![thumbnail](data:image/webp;base64,${blob})`,
    ]);
    return { text, channel: rng.pick(['tool_output', 'user_prompt', 'retrieved_doc']), kinds: [] };
  },

  paymentDocs(lang) {
    const intro: Record<Lang, string> = {
      en: 'To test payments in sandbox mode, use one of these card numbers with any future expiry date and any CVC:',
      de: 'Für Tests im Sandbox-Modus eine dieser Kartennummern mit beliebigem zukünftigen Ablaufdatum verwenden:',
      fr: 'Pour tester les paiements en mode bac à sable, utilisez un de ces numéros avec une date future :',
      es: 'Para probar pagos en modo sandbox, usa uno de estos números con cualquier fecha futura:',
      pt: 'Para testar pagamentos em sandbox, use um destes números com qualquer validade futura:',
      it: 'Per testare i pagamenti in sandbox, usa uno di questi numeri con una scadenza futura:',
    };
    const cards = rng.some(
      [
        '4242 4242 4242 4242',
        '4000 0566 5566 5556',
        '5555 5555 5555 4444',
        '3782 822463 10005',
        '6011 1111 1111 1117',
        '4111 1111 1111 1111',
      ],
      2,
      4,
    );
    const key = lookalike.placeholderKey(rng);
    const text = `${intro[lang]}\n\n${cards.map((c) => `- ${c}`).join('\n')}\n\nexport PAYMENTS_API_KEY=${key}`;
    return { text, channel: rng.pick(['retrieved_doc', 'completion']), kinds: [] };
  },

  orders(lang) {
    const header: Record<Lang, string> = {
      en: 'order,placed,total,status',
      de: 'Bestellung;Datum;Summe;Status',
      fr: 'commande;date;total;statut',
      es: 'pedido;fecha;total;estado',
      pt: 'encomenda;data;total;estado',
      it: 'ordine;data;totale;stato',
    };
    const sep = lang === 'en' ? ',' : ';';
    const n = rng.int(2, 8);
    const rows = Array.from({ length: n }, () =>
      [
        lookalike.orderNo(rng),
        iso().slice(0, 10),
        `${rng.int(5, 900)}.${rng.int(10, 99)}`,
        rng.pick(['shipped', 'pending', 'returned']),
      ].join(sep),
    );
    const label: Record<Lang, string> = {
      en: 'Order #',
      de: 'Bestellnummer ',
      fr: 'Commande n° ',
      es: 'Pedido n.º ',
      pt: 'Encomenda nº ',
      it: 'Ordine n. ',
    };
    const extra = rng.chance(0.6)
      ? `\n\n${label[lang]}${rng.int(200, 999)}-${rng.int(200, 999)}-${rng.digits(4)}: ${rng.pick(['refunded', 'delayed', '⚠'])}; tracking 1Z${rng.chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 16)}`
      : '';
    return {
      text: `${header[lang]}\n${rows.join('\n')}${extra}`,
      channel: rng.pick(['tool_output', 'retrieved_doc']),
      kinds: [],
    };
  },

  invalidLookalikes(lang) {
    const L = LABEL[lang];
    const items = rng
      .some(
        [
          () => `${L.iban}: ${iban(rng, rng.pick(['DE', 'FR', 'ES', 'IT']), false)}`,
          () => `${L.card}: ${card(rng, false).text}`,
          () => `CPF ${cpf(rng, false)}`,
          () => `NIR ${nir(rng, false)}`,
          () => `DNI ${dni(rng, false)}`,
          () => `CF ${codiceFiscale(rng, false)}`,
          () => `Steuer-ID ${steuerId(rng, false)}`,
          () => `SIN ${sin(rng, false)}`,
          () => `Aadhaar ${aadhaar(rng, false)}`,
          () => `ref ${sin(rng)}`,
          () => `Rechnung ${steuerId(rng)}`,
          () => `NI: QQ 12 34 56 ${rng.pick(['A', 'B', 'C'])}`,
          () => `lot ${nino(rng, false)}`,
        ],
        1,
        3,
      )
      .map((f) => f());
    const intro: Record<Lang, string> = {
      en: 'Validation report: the following values were rejected by the checksum step.',
      de: 'Prüfbericht: Die folgenden Werte hat die Prüfziffernkontrolle abgelehnt.',
      fr: 'Rapport de validation : ces valeurs ont échoué au contrôle de la clé.',
      es: 'Informe de validación: estos valores no superaron el dígito de control.',
      pt: 'Relatório de validação: estes valores falharam o dígito verificador.',
      it: 'Report di validazione: questi valori non hanno superato il controllo.',
    };
    return {
      text: `${intro[lang]}\n${items.map((i) => `* ${i}`).join('\n')}`,
      channel: rng.pick(['tool_output', 'retrieved_doc']),
      kinds: [],
    };
  },

  benignToolArgs(lang) {
    const args = rng.pick([
      () => ({ query: rng.pick(BENIGN_ASK[lang]), top_k: rng.int(3, 20) }),
      () => ({
        path: `src/${rng.pick(['billing', 'auth', 'orders'])}/${rng.pick(['index', 'service', 'routes'])}.ts`,
        line: rng.int(1, 400),
      }),
      () => ({ repo: `acme/${svc()}`, sha: lookalike.sha1(rng), check: 'ci' }),
      () => ({
        city: rng.pick(['Lyon', 'Porto', 'Bologna', 'Leipzig', 'Valencia']),
        units: 'metric',
        days: rng.int(1, 7),
      }),
      () => ({
        sql: `SELECT status, count(*) FROM orders WHERE created_at >= '${iso().slice(0, 10)}' GROUP BY status`,
      }),
      () => ({ request_id: lookalike.uuid(rng), retry: rng.chance(0.5), timeout_ms: rng.int(100, 30000) }),
      () => ({ api_key: '${PAYMENTS_API_KEY}', endpoint: 'https://api.example.com/v1/charges', dry_run: true }),
      () => ({ host: privateIp(rng), port: rng.pick([22, 443, 5432, 8080]), command: 'uptime' }),
      () => ({
        version: lookalike.version(rng),
        channel: rng.pick(['stable', 'beta']),
        rollout_percent: rng.int(1, 100),
      }),
    ])();
    return { text: JSON.stringify(args), channel: 'tool_arguments', kinds: [] };
  },

  numbers(lang) {
    const text = rng.pick([
      () =>
        `Coordinates: ${(40 + rng.next() * 10).toFixed(5)}, ${(rng.next() * 10).toFixed(5)}; elevation ${rng.int(10, 2000)} m.`,
      () =>
        `Build ${lookalike.version(rng)} (${lookalike.epochMs(rng)}) took ${rng.int(30, 900)} s; ${rng.int(100, 4000)} tests, ${rng.int(0, 3)} flaky.`,
      () =>
        `${rng.pick(BENIGN_PROSE[lang])} Ref. ${rng.int(2020, 2026)}/${rng.int(100, 999)}, ${rng.int(10, 99)} pages.`,
      () =>
        `Population 2024: ${rng.int(1, 9)}.${rng.digits(3)}.${rng.digits(3)}; growth ${rng.int(0, 3)},${rng.int(0, 9)} %; density ${rng.int(50, 900)}/km².`,
      () =>
        `| quarter | revenue | margin |\n|---|---|---|\n| Q1 | ${rng.int(100, 999)} ${rng.digits(3)} | ${rng.int(5, 40)}% |\n| Q2 | ${rng.int(100, 999)} ${rng.digits(3)} | ${rng.int(5, 40)}% |`,
      () => `Timestamps: ${lookalike.epochMs(rng)}, ${lookalike.epochMs(rng)}; ISO ${iso()}.`,
    ])();
    return { text, channel: rng.pick(['user_prompt', 'completion', 'retrieved_doc']), kinds: [] };
  },

  placeholders(lang) {
    const lead: Record<Lang, string> = {
      en: 'Set the key before running the example:',
      de: 'Vor dem Start den Schlüssel setzen:',
      fr: "Définissez la clé avant d'exécuter l'exemple :",
      es: 'Define la clave antes de ejecutar el ejemplo:',
      pt: 'Define a chave antes de correr o exemplo:',
      it: "Imposta la chiave prima di eseguire l'esempio:",
    };
    const key = lookalike.placeholderKey(rng);
    const text = rng.pick([
      `${lead[lang]}\n\n\`\`\`bash\nexport OPENAI_API_KEY=${key}\ncurl https://api.example.com/v1/models -H "Authorization: Bearer $OPENAI_API_KEY"\n\`\`\``,
      `${lead[lang]}\n\naws_access_key_id = ${rng.pick(['AKIAXXXXXXXXXXXXXXXX', 'AKIAIOSFODNN7EXAMPLE'])}\naws_secret_access_key = ${rng.pick(['wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', '<secret>'])}`,
      `${lead[lang]} \`token: ${key}\``,
    ]);
    return { text, channel: rng.pick(['retrieved_doc', 'completion', 'user_prompt']), kinds: [] };
  },

  meetingNotes(lang) {
    const ps = [person(rng, lang), person(rng, lang), person(rng, lang)];
    const title: Record<Lang, string> = {
      en: 'Meeting notes',
      de: 'Besprechungsnotizen',
      fr: 'Compte rendu',
      es: 'Acta de la reunión',
      pt: 'Ata da reunião',
      it: 'Verbale della riunione',
    };
    const text = `${title[lang]} — ${iso().slice(0, 10)}\n${ps.map((p) => `${p.first} ${p.last}`).join(', ')}\n\n1. ${rng.pick(BENIGN_PROSE[lang])}\n2. ${rng.pick(BENIGN_PROSE[lang])}\n3. Room ${rng.int(1, 5)}.${rng.int(10, 40)}, ${rng.int(9, 17)}:${rng.pick(['00', '30'])}`;
    return { text, channel: rng.pick(['retrieved_doc', 'tool_output']), kinds: [] };
  },

  certificate() {
    const lines = Array.from({ length: rng.int(3, 8) }, () => lookalike.base64Blob(rng, 48));
    const text = `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n-----BEGIN PUBLIC KEY-----\n${lookalike.base64Blob(rng, 48)}\n-----END PUBLIC KEY-----`;
    return { text, channel: rng.pick(['tool_output', 'retrieved_doc']), kinds: [] };
  },

  gitRemote() {
    const text = `$ git remote -v\norigin\tgit@github.com:acme/${svc()}.git (fetch)\norigin\tgit@github.com:acme/${svc()}.git (push)\n$ git log --oneline -3\n${lookalike.sha1(rng).slice(0, 7)} fix build\n${lookalike.sha1(rng).slice(0, 7)} add icon@2x.png and logo@3x.png\n${lookalike.sha1(rng).slice(0, 7)} bump to ${lookalike.version(rng)}`;
    return { text, channel: 'tool_output', kinds: [] };
  },

  /** Negatives written to be hard and not tuned against the detector: serials, versions, digests, constants. */
  hardNegative(lang) {
    const text = rng.pick([
      () => `SN ${rng.int(200, 999)}-${rng.int(200, 999)}-${rng.digits(4)}, firmware ${lookalike.version(rng)}`,
      () => `ISBN 978-${rng.int(1, 9)}-${rng.digits(2)}-${rng.digits(6)}-${rng.int(0, 9)}; ${rng.int(120, 900)} pages`,
      () =>
        `User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/${rng.int(100, 130)}.0.${rng.int(1000, 6999)}.${rng.int(10, 200)} Safari/537.36`,
      () =>
        `version ${rng.int(1, 9)}.${rng.int(0, 9)}.${rng.int(0, 20)}.${rng.int(0, 99)} ${rng.pick(['released', 'rolled back', 'pinned'])}`,
      () =>
        `<script src="/app.js" integrity="sha384-${lookalike.base64Blob(rng, 48)}" crossorigin="anonymous"></script>`,
      () => `ETag: W/"${lookalike.base64Blob(rng, 30)}"`,
      () => `${rng.pick(BENIGN_PROSE[lang])} π ≈ 3.14159265358979, e ≈ 2.718281828459045.`,
      () => `snapshot ${rng.int(2024, 2026)}${rng.digits(10)} restored; checksum ${lookalike.md5(rng)}`,
      () =>
        `k8s uid ${lookalike.uuid(rng)} node ip-${rng.int(10, 10)}-${rng.int(0, 255)}-${rng.int(0, 255)}-${rng.int(1, 254)}.ec2.internal`,
    ])();
    return {
      text,
      channel: rng.pick(['tool_output', 'retrieved_doc', 'user_prompt', 'completion', 'tool_arguments']),
      kinds: [],
    };
  },
};

// ---------------------------------------------------------------- assembly

function uniq(items: string[]): string[] {
  return [...new Set(items)];
}
function cap(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
function camel(name: string): string {
  return fold(name).replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Shapes whose text has no human language beyond a comment: spread over languages all the same. */
const LANG_WEIGHTS: [Lang, number][] = [
  ['en', 0.3],
  ['de', 0.14],
  ['fr', 0.14],
  ['es', 0.14],
  ['pt', 0.14],
  ['it', 0.14],
];

function pickLang(): Lang {
  let r = rng.next();
  for (const [lang, w] of LANG_WEIGHTS) {
    if ((r -= w) < 0) return lang;
  }
  return 'en';
}

function build(shapes: Record<string, Shape>, label: Row['label'], count: number): Row[] {
  const names = Object.keys(shapes);
  const rows: Row[] = [];
  const seen = new Set<string>();
  let attempts = 0;
  while (rows.length < count && attempts++ < count * 20) {
    const shape = names[rows.length % names.length]!;
    const lang = pickLang();
    const made = shapes[shape]!(lang);
    // Tool arguments are a JSON object: a command, a query or a document travels as one of its fields.
    if (made.channel === 'tool_arguments' && !made.text.startsWith('{')) {
      const field = /^(?:INSERT|SELECT)/.test(made.text)
        ? 'sql'
        : /^(?:aws|curl|echo|ssh) /.test(made.text)
          ? 'command'
          : 'content';
      made.text = JSON.stringify(rng.chance(0.5) ? { [field]: made.text } : { tool: shape, [field]: made.text });
    }
    if (seen.has(made.text)) continue;
    seen.add(made.text);
    rows.push({
      id: '',
      lang,
      channel: made.channel,
      label,
      kinds: label === 'benign' ? [] : uniq(made.kinds).sort(),
      shape,
      text: made.text,
    });
  }
  return rows;
}

const rows = [...build(positive, 'sensitive', 1700), ...build(benign, 'benign', 1700)];
mkdirSync(OUT, { recursive: true });
for (const lang of LANGS) {
  const mine = rows.filter((r) => r.lang === lang);
  mine.forEach((row, i) => (row.id = `sens-${lang}-${String(i + 1).padStart(4, '0')}`));
  const lines = mine.map(({ id, lang: l, channel, label, kinds, shape, text }) =>
    JSON.stringify({ id, lang: l, channel, label, kinds, shape, text }),
  );
  writeFileSync(join(OUT, `${lang}.jsonl`), `${lines.join('\n')}\n`);
}
process.stdout.write(
  `wrote ${rows.length} texts (${rows.filter((r) => r.label === 'sensitive').length} sensitive) to ${OUT}\n`,
);
