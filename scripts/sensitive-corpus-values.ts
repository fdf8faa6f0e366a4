import { passesVerhoeff } from '@aispm/core';
/**
 * Synthetic values for the sensitive-data corpus (scripts/sensitive-corpus.ts):
 * every identifier is made up by a seeded generator and, where the format has
 * a check, valid (or, for look-alikes, deliberately invalid). Domains are under
 * reserved names (`.example`, `.test`, example.com); US phone numbers are in the
 * 555-01xx range and UK ones in Ofcom's drama ranges.
 */

/** A seeded PRNG (mulberry32). */
export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
  some<T>(items: readonly T[], min: number, max: number): T[] {
    return this.shuffle(items).slice(0, this.int(min, Math.min(max, items.length)));
  }
  digits(n: number): string {
    let out = '';
    for (let i = 0; i < n; i++) out += String(this.int(0, 9));
    return out;
  }
  chars(alphabet: string, n: number): string {
    for (;;) {
      let out = '';
      for (let i = 0; i < n; i++) out += alphabet[Math.floor(this.next() * alphabet.length)];
      const sets = [UPPER, LOWER, DIGITS].filter((set) => [...set].some((c) => alphabet.includes(c)));
      if (n < 12 || sets.every((set) => [...out].some((c) => set.includes(c)))) return out;
    }
  }
}

export const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
export const LOWER = 'abcdefghijklmnopqrstuvwxyz';
export const DIGITS = '0123456789';
export const ALNUM = UPPER + LOWER + DIGITS;
export const HEX = '0123456789abcdef';
export const B64 = `${ALNUM}+/`;
export const URLSAFE = `${ALNUM}_-`;

export const LANGS = ['en', 'de', 'fr', 'es', 'pt', 'it'] as const;
export type Lang = (typeof LANGS)[number];

export const FIRST: Record<Lang, string[]> = {
  en: ['Olivia', 'James', 'Amelia', 'Noah', 'Harriet', 'Ethan', 'Grace', 'Oscar', 'Maya', 'Liam', 'Chloe', 'Reggie'],
  de: ['Lena', 'Jonas', 'Hannah', 'Lukas', 'Marie', 'Felix', 'Sophie', 'Matthias', 'Greta', 'Tobias', 'Anja', 'Jörg'],
  fr: ['Camille', 'Louis', 'Chloé', 'Hugo', 'Léa', 'Théo', 'Manon', 'Arthur', 'Inès', 'Mathis', 'Élodie', 'Rémi'],
  es: ['Lucía', 'Mateo', 'Sofía', 'Hugo', 'Martina', 'Pablo', 'Valeria', 'Álvaro', 'Carmen', 'Diego', 'Nuria', 'Iker'],
  pt: ['Beatriz', 'João', 'Mariana', 'Tiago', 'Inês', 'Rafael', 'Larissa', 'Gonçalo', 'Ana', 'Pedro', 'Thaís', 'Caio'],
  it: ['Giulia', 'Lorenzo', 'Chiara', 'Matteo', 'Sara', 'Alessandro', 'Federica', 'Davide', 'Elena', 'Marco', 'Irene'],
};
export const LAST: Record<Lang, string[]> = {
  en: ['Whitfield', 'Okafor', 'Pemberton', 'Hughes', 'Kowalski', 'Ashworth', 'Bramley', 'Nakamura', 'Fletcher'],
  de: ['Bergmann', 'Schäfer', 'Krüger', 'Hoffmann', 'Vogel', 'Lindner', 'Brandt', 'Seidel', 'Kühn', 'Winkler'],
  fr: ['Dubois', 'Lefèvre', 'Moreau', 'Girard', 'Fontaine', 'Chevalier', 'Rousseau', 'Lambert', 'Perrin'],
  es: ['García', 'Fernández', 'Navarro', 'Morales', 'Castillo', 'Ortega', 'Delgado', 'Herrera', 'Vidal'],
  pt: ['Silva', 'Oliveira', 'Carvalho', 'Ferreira', 'Almeida', 'Ribeiro', 'Moura', 'Teixeira', 'Barros'],
  it: ['Rossi', 'Bianchi', 'Esposito', 'Ricci', 'Marino', 'Greco', 'Bruno', 'Gallo', 'Conti', 'Fontana'],
};
export const COMPANY: Record<Lang, string[]> = {
  en: ['northwind-freight', 'bluepeak', 'harbourline', 'oakridge-health', 'tidewater', 'brightforge'],
  de: ['bergmann-logistik', 'alpenwerk', 'nordlicht-versand', 'rheintal-energie', 'stadtwerke-kelm'],
  fr: ['transports-moreau', 'lumiere-conseil', 'atelier-perrin', 'vallee-bleue', 'groupe-fontaine'],
  es: ['logistica-navarro', 'sol-y-mar', 'grupo-ortega', 'clinica-delgado', 'muebles-vidal'],
  pt: ['transportes-moura', 'casa-ribeiro', 'grupo-almeida', 'clinica-barros', 'atlantico-seguros'],
  it: ['trasporti-greco', 'studio-conti', 'fontana-arredi', 'clinica-marino', 'gruppo-bruno'],
};

export const fold = (text: string): string =>
  text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase();

export interface Person {
  first: string;
  last: string;
  email: string;
  company: string;
}

export function person(rng: Rng, lang: Lang): Person {
  const first = rng.pick(FIRST[lang]);
  const last = rng.pick(LAST[lang]);
  const company = rng.pick(COMPANY[lang]);
  return { first, last, company, email: email(rng, first, last, company) };
}

export function email(rng: Rng, first: string, last: string, company: string): string {
  const f = fold(first);
  const l = fold(last).replace(/\s/g, '');
  const local = rng.pick([
    `${f}.${l}`,
    `${f[0]}.${l}`,
    `${f}${l}${rng.int(1, 99)}`,
    `${l}_${f}`,
    `${f}`,
    `${f}.${l}+${rng.pick(['ai', 'billing', 'test', 'news'])}`,
  ]);
  const domain = rng.pick([
    `${company}.example`,
    `${company}.test`,
    `mail.${company}.example`,
    'example.com',
    'example.org',
    'example.net',
    `${company}.example.com`,
  ]);
  return `${local}@${domain}`;
}

/** A Luhn check digit making `body` + it valid. */
function luhnDigit(body: string): string {
  for (let d = 0; d <= 9; d++) {
    const s = body + String(d);
    let sum = 0;
    for (let i = 0; i < s.length; i++) {
      let v = s.charCodeAt(s.length - 1 - i) - 48;
      if (i % 2 === 1) {
        v *= 2;
        if (v > 9) v -= 9;
      }
      sum += v;
    }
    if (sum % 10 === 0) return String(d);
  }
  return '0';
}

export function card(rng: Rng, valid = true): { digits: string; text: string } {
  const scheme = rng.pick(['visa', 'mc', 'amex', 'discover', 'mc2']);
  const prefix =
    scheme === 'visa'
      ? '4'
      : scheme === 'mc'
        ? `5${rng.int(1, 5)}`
        : scheme === 'mc2'
          ? `2${rng.int(221, 720)}`
          : scheme === 'amex'
            ? rng.pick(['34', '37'])
            : '6011';
  const length = scheme === 'amex' ? 15 : 16;
  const body = prefix + rng.digits(length - 1 - prefix.length);
  let check = luhnDigit(body);
  if (!valid) check = String((Number(check) + rng.int(1, 9)) % 10);
  const digits = body + check;
  const groups =
    scheme === 'amex' ? [digits.slice(0, 4), digits.slice(4, 10), digits.slice(10)] : digits.match(/.{4}/g)!;
  const text = rng.pick([groups.join(' '), groups.join('-'), digits, groups.join(' ')]);
  return { digits, text };
}

function mod97(digits: string): number {
  let rest = 0;
  for (const c of digits) rest = (rest * 10 + Number(c)) % 97;
  return rest;
}

const ibanNumeric = (s: string): string =>
  [...s].map((c) => (/[A-Z]/.test(c) ? String(c.charCodeAt(0) - 55) : c)).join('');

/** A valid IBAN of the country (or an invalid look-alike), spaced in fours or compact. */
export function iban(rng: Rng, country: string, valid = true): string {
  const bban: Record<string, () => string> = {
    DE: () => rng.digits(18),
    FR: () => rng.digits(10) + rng.chars(UPPER + DIGITS, 11).toUpperCase() + rng.digits(2),
    ES: () => rng.digits(20),
    IT: () => rng.pick([...UPPER]) + rng.digits(10) + rng.digits(12),
    PT: () => rng.digits(21),
    GB: () => rng.chars(UPPER, 4) + rng.digits(14),
    NL: () => rng.chars(UPPER, 4) + rng.digits(10),
    BE: () => rng.digits(12),
  };
  const b = (bban[country] ?? bban.DE!)();
  let check = 98 - mod97(ibanNumeric(`${b}${country}00`));
  if (!valid) check = ((check + rng.int(1, 50)) % 97) + 2;
  const compact = `${country}${String(check).padStart(2, '0')}${b}`;
  return rng.chance(0.7) ? compact.match(/.{1,4}/g)!.join(' ') : compact;
}

export function ssn(rng: Rng): string {
  let area = rng.int(1, 899);
  if (area === 666) area = 667;
  return `${String(area).padStart(3, '0')}-${String(rng.int(1, 99)).padStart(2, '0')}-${String(rng.int(1, 9999)).padStart(4, '0')}`;
}

const RESERVED = [0, 10, 100, 127, 169, 172, 192, 198, 203];

/** A public (routable, not reserved) IPv4 address. */
export function publicIp(rng: Rng): string {
  for (;;) {
    const a = rng.int(1, 223);
    if (RESERVED.includes(a)) continue;
    return `${a}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
  }
}

export function privateIp(rng: Rng): string {
  return rng.pick([
    `10.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`,
    `192.168.${rng.int(0, 255)}.${rng.int(1, 254)}`,
    `172.${rng.int(16, 31)}.${rng.int(0, 255)}.${rng.int(1, 254)}`,
    `127.0.0.1`,
    `192.0.2.${rng.int(1, 254)}`,
    `198.51.100.${rng.int(1, 254)}`,
    `203.0.113.${rng.int(1, 254)}`,
  ]);
}

export function phone(rng: Rng, lang: Lang): string {
  switch (lang) {
    case 'de':
      return rng.pick([
        `+49 30 ${rng.digits(7)}`,
        `+49 151 ${rng.digits(8)}`,
        `0${rng.pick(['30', '40', '89', '221'])} ${rng.digits(7)}`,
        `0151 ${rng.digits(4)} ${rng.digits(4)}`,
        `+49 (0)69 ${rng.digits(3)} ${rng.digits(4)}`,
      ]);
    case 'fr':
      return rng.pick([
        `+33 6 ${rng.digits(2)} ${rng.digits(2)} ${rng.digits(2)} ${rng.digits(2)}`,
        `06 ${rng.digits(2)} ${rng.digits(2)} ${rng.digits(2)} ${rng.digits(2)}`,
        `01 ${rng.digits(2)} ${rng.digits(2)} ${rng.digits(2)} ${rng.digits(2)}`,
        `+33 1 ${rng.digits(2)} ${rng.digits(2)} ${rng.digits(2)} ${rng.digits(2)}`,
      ]);
    case 'es':
      return rng.pick([
        `+34 6${rng.digits(2)} ${rng.digits(3)} ${rng.digits(3)}`,
        `+34 91 ${rng.digits(3)} ${rng.digits(2)} ${rng.digits(2)}`,
        `0034 6${rng.digits(8)}`,
      ]);
    case 'pt':
      return rng.pick([
        `+351 9${rng.digits(2)} ${rng.digits(3)} ${rng.digits(3)}`,
        `+55 11 9${rng.digits(4)}-${rng.digits(4)}`,
        `+55 (21) 9${rng.digits(4)}-${rng.digits(4)}`,
      ]);
    case 'it':
      return rng.pick([
        `+39 3${rng.digits(2)} ${rng.digits(3)} ${rng.digits(4)}`,
        `+39 06 ${rng.digits(4)} ${rng.digits(4)}`,
        `02 ${rng.digits(4)} ${rng.digits(4)}`,
      ]);
    default:
      return rng.pick([
        `+44 20 7946 0${rng.digits(3)}`,
        `020 7946 0${rng.digits(3)}`,
        `+44 161 496 0${rng.digits(3)}`,
        `(${rng.pick(['415', '212', '617', '303'])}) 555-01${rng.digits(2)}`,
        `${rng.pick(['415', '212', '617', '303'])}-555-01${rng.digits(2)}`,
        `+1 ${rng.pick(['415', '212', '617', '303'])} 555 01${rng.digits(2)}`,
      ]);
  }
}

/** A national phone number only its label makes one (612 345 678, (11) 91234-5678). */
export function labelledOnlyPhone(rng: Rng, lang: Lang): string {
  return lang === 'es'
    ? `6${rng.digits(2)} ${rng.digits(3)} ${rng.digits(3)}`
    : lang === 'pt'
      ? rng.pick([`9${rng.digits(2)} ${rng.digits(3)} ${rng.digits(3)}`, `(11) 9${rng.digits(4)}-${rng.digits(4)}`])
      : lang === 'it'
        ? `3${rng.digits(2)} ${rng.digits(3)} ${rng.digits(4)}`
        : `${rng.digits(3)} ${rng.digits(3)} ${rng.digits(3)}`;
}

// ---- national identifiers ----

export function nino(rng: Rng, spaced: boolean): string {
  const first = 'ABCEGHJKLMNOPRSTWXYZ';
  const second = 'ABCEGHJKLMNPRSTWXYZ';
  let prefix: string;
  do prefix = rng.pick([...first]) + rng.pick([...second]);
  while (['BG', 'GB', 'NK', 'KN', 'TN', 'NT', 'ZZ'].includes(prefix));
  const d = rng.digits(6);
  const suffix = rng.pick(['A', 'B', 'C', 'D']);
  return spaced ? `${prefix} ${d.slice(0, 2)} ${d.slice(2, 4)} ${d.slice(4)} ${suffix}` : `${prefix}${d}${suffix}`;
}

export function sin(rng: Rng, valid = true): string {
  const body = String(rng.pick([1, 2, 3, 4, 5, 6, 7, 9])) + rng.digits(7);
  let check = luhnDigit(body);
  if (!valid) check = String((Number(check) + rng.int(1, 9)) % 10);
  const d = body + check;
  const sep = rng.pick([' ', '-', '']);
  return `${d.slice(0, 3)}${sep}${d.slice(3, 6)}${sep}${d.slice(6)}`;
}

export function nir(rng: Rng, valid = true): string {
  const sex = rng.pick(['1', '2']);
  const yy = rng.digits(2);
  const mm = String(rng.int(1, 12)).padStart(2, '0');
  const dept = rng.chance(0.1) ? rng.pick(['2A', '2B']) : String(rng.int(1, 95)).padStart(2, '0');
  const commune = String(rng.int(1, 999)).padStart(3, '0');
  const order = String(rng.int(1, 999)).padStart(3, '0');
  const body = `${sex}${yy}${mm}${dept}${commune}${order}`;
  const numeric = body.replace('2A', '19').replace('2B', '18');
  let key = 97 - mod97(numeric);
  if (!valid) key = ((key + rng.int(1, 90)) % 97) + 1;
  const k = String(key).padStart(2, '0');
  return rng.chance(0.6) ? `${sex} ${yy} ${mm} ${dept} ${commune} ${order} ${k}` : `${body}${k}`;
}

export function dni(rng: Rng, valid = true): string {
  const letters = 'TRWAGMYFPDXBNJZSQVHLCKE';
  if (rng.chance(0.3)) {
    const p = rng.pick(['X', 'Y', 'Z']);
    const n = rng.digits(7);
    let letter = letters[Number(`${'XYZ'.indexOf(p)}${n}`) % 23]!;
    if (!valid) letter = letters[(letters.indexOf(letter) + rng.int(1, 22)) % 23]!;
    return `${p}${n}${letter}`;
  }
  const n = String(rng.int(10_000_000, 99_999_999));
  let letter = letters[Number(n) % 23]!;
  if (!valid) letter = letters[(letters.indexOf(letter) + rng.int(1, 22)) % 23]!;
  return rng.chance(0.3) ? `${n}-${letter}` : `${n}${letter}`;
}

const CF_ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];

export function codiceFiscale(rng: Rng, valid = true): string {
  const consonants = 'BCDFGHLMNPRSTVZ';
  const body =
    rng.chars(consonants, 3) +
    rng.chars(consonants, 3) +
    rng.digits(2) +
    rng.pick([...'ABCDEHLMPRST']) +
    String(rng.chance(0.5) ? rng.int(1, 31) : rng.int(41, 71)).padStart(2, '0') +
    rng.pick([...'ABCDEFGHILM']) +
    rng.digits(3);
  let sum = 0;
  for (let i = 0; i < 15; i++) {
    const c = body.charCodeAt(i);
    const index = c <= 57 ? c - 48 : c - 65;
    sum += i % 2 === 0 ? CF_ODD[index]! : index;
  }
  let check = sum % 26;
  if (!valid) check = (check + rng.int(1, 25)) % 26;
  return body + String.fromCharCode(65 + check);
}

function iso7064(digits: string): string {
  let product = 10;
  for (const c of digits) {
    let sum = (Number(c) + product) % 10;
    if (sum === 0) sum = 10;
    product = (sum * 2) % 11;
  }
  return String((11 - product) % 10);
}

export function steuerId(rng: Rng, valid = true): string {
  for (;;) {
    const pool = rng.shuffle([...DIGITS]);
    const used = pool.slice(0, 9);
    const twice = rng.pick(used);
    const first10 = rng.shuffle([...used, twice]);
    if (first10[0] === '0') continue;
    const body = first10.join('');
    let check = iso7064(body);
    if (!valid) check = String((Number(check) + rng.int(1, 9)) % 10);
    const d = body + check;
    return rng.pick([d, `${d.slice(0, 2)} ${d.slice(2, 5)} ${d.slice(5, 8)} ${d.slice(8)}`]);
  }
}

export function cpf(rng: Rng, valid = true, formatted = true): string {
  const d = [...rng.digits(9)].map(Number);
  for (const length of [9, 10]) {
    let sum = 0;
    for (let i = 0; i < length; i++) sum += d[i]! * (length + 1 - i);
    d.push(((sum * 10) % 11) % 10);
  }
  if (!valid) d[10] = (d[10]! + rng.int(1, 9)) % 10;
  const s = d.join('');
  return formatted ? `${s.slice(0, 3)}.${s.slice(3, 6)}.${s.slice(6, 9)}-${s.slice(9)}` : s;
}

export function aadhaar(rng: Rng, valid = true): string {
  const body = String(rng.int(2, 9)) + rng.digits(10);
  // The one digit that makes the number pass core's Verhoeff check.
  let check = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].find((digit) => passesVerhoeff(body + String(digit)))!;
  if (!valid) check = (check + rng.int(1, 9)) % 10;
  const d = body + String(check);
  return rng.pick([
    `${d.slice(0, 4)} ${d.slice(4, 8)} ${d.slice(8)}`,
    d,
    `${d.slice(0, 4)}-${d.slice(4, 8)}-${d.slice(8)}`,
  ]);
}

// ---- secrets ----

const b64url = (text: string): string => Buffer.from(text).toString('base64url');

export const secret = {
  aws: (rng: Rng) => `${rng.pick(['AKIA', 'AKIA', 'ASIA'])}${rng.chars(`${UPPER}234567`, 16)}`,
  awsSecret: (rng: Rng) => rng.chars(B64, 40),
  github: (rng: Rng) =>
    rng.chance(0.8)
      ? `${rng.pick(['ghp_', 'gho_', 'ghs_'])}${rng.chars(ALNUM, 36)}`
      : `github_pat_11${rng.chars(UPPER + DIGITS, 20)}_${rng.chars(ALNUM, 59)}`,
  gitlab: (rng: Rng) => `glpat-${rng.chars(URLSAFE, 20)}`,
  openai: (rng: Rng) =>
    rng.chance(0.6) ? `sk-proj-${rng.chars(URLSAFE, 64)}` : `sk-${rng.chars(ALNUM, 20)}T3BlbkFJ${rng.chars(ALNUM, 20)}`,
  anthropic: (rng: Rng) => `sk-ant-api03-${rng.chars(URLSAFE, 93)}AA`,
  slack: (rng: Rng) => `xoxb-${rng.digits(12)}-${rng.digits(13)}-${rng.chars(ALNUM, 24)}`,
  slackWebhook: (rng: Rng) =>
    `https://hooks.slack.com/services/T${rng.chars(UPPER + DIGITS, 8)}/B${rng.chars(UPPER + DIGITS, 10)}/${rng.chars(ALNUM, 24)}`,
  stripe: (rng: Rng) => `${rng.pick(['sk_live_', 'rk_live_'])}${rng.chars(ALNUM, 24)}`,
  google: (rng: Rng) => `AIza${rng.chars(URLSAFE, 35)}`,
  hf: (rng: Rng) => `hf_${rng.chars(ALNUM, 34)}`,
  groq: (rng: Rng) => `gsk_${rng.chars(ALNUM, 52)}`,
  npm: (rng: Rng) => `npm_${rng.chars(ALNUM, 36)}`,
  telegram: (rng: Rng) => `${rng.digits(10)}:AA${rng.chars(URLSAFE, 33)}`,
  discordWebhook: (rng: Rng) => `https://discord.com/api/webhooks/${rng.digits(18)}/${rng.chars(URLSAFE, 68)}`,
  jwt: (rng: Rng) =>
    [
      b64url(JSON.stringify({ alg: rng.pick(['HS256', 'RS256']), typ: 'JWT' })),
      b64url(
        JSON.stringify({
          sub: rng.digits(8),
          scope: rng.pick(['read', 'admin', 'billing']),
          iat: 1_760_000_000 + rng.int(0, 9_999_999),
        }),
      ),
      rng.chars(URLSAFE, 43),
    ].join('.'),
  password: (rng: Rng) =>
    rng.pick([
      `${rng.chars(ALNUM, 10)}!${rng.digits(2)}`,
      `${rng.pick(['Sommer', 'Lune', 'Verano', 'Sole', 'Brisa', 'Winter'])}${rng.digits(4)}${rng.pick(['!', '#', '$', '%'])}`,
      `${rng.chars(`${ALNUM}!#%*`, 16)}`,
      `${rng.pick(['Tr0mb0ne', 'K4ffee', 'P4ssag3', 'Gir4sole', 'C4stelo'])}-${rng.digits(3)}`,
    ]),
  token: (rng: Rng) => rng.chars(ALNUM, rng.int(24, 40)),
  azureKey: (rng: Rng) => `${rng.chars(B64, 86)}==`,
  pem: (rng: Rng) => {
    const lines = Array.from({ length: rng.int(3, 8) }, () => rng.chars(B64, 64));
    const type = rng.pick(['RSA PRIVATE KEY', 'PRIVATE KEY', 'EC PRIVATE KEY', 'OPENSSH PRIVATE KEY']);
    return `-----BEGIN ${type}-----\n${lines.join('\n')}\n-----END ${type}-----`;
  },
  basic: (rng: Rng) =>
    Buffer.from(`${rng.pick(['svc-etl', 'admin', 'deploy', 'reporting'])}:${secret.password(rng)}`).toString('base64'),
  bearer: (rng: Rng) => rng.chars(URLSAFE, rng.int(32, 48)),
};

// ---- look-alikes that are not sensitive ----

export const lookalike = {
  sha1: (rng: Rng) => rng.chars(HEX, 40),
  sha256: (rng: Rng) => rng.chars(HEX, 64),
  md5: (rng: Rng) => rng.chars(HEX, 32),
  uuid: (rng: Rng) => {
    const h = rng.chars(HEX, 32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
  },
  base64Blob: (rng: Rng, bytes: number) => {
    const raw = Buffer.alloc(bytes);
    for (let i = 0; i < bytes; i++) raw[i] = rng.int(0, 255);
    return raw.toString('base64');
  },
  version: (rng: Rng) => `${rng.int(0, 12)}.${rng.int(0, 40)}.${rng.int(0, 30)}`,
  epochMs: (rng: Rng) => String(1_700_000_000_000 + rng.int(0, 99_999_999) * 1000 + rng.int(0, 999)),
  /** Order numbers as shops print them; phone-shaped ones only appear after an order label (sensitive-corpus.ts). */
  orderNo: (rng: Rng) =>
    rng.pick([
      `${rng.digits(3)}-${rng.digits(7)}-${rng.digits(7)}`,
      `${rng.digits(10)}`,
      `A${rng.digits(8)}`,
      `${new Date(Date.UTC(2025, rng.int(0, 11), rng.int(1, 28))).toISOString().slice(0, 10).replace(/-/g, '')}-${rng.digits(5)}`,
    ]),
  placeholderKey: (rng: Rng) =>
    rng.pick([
      'AKIAXXXXXXXXXXXXXXXX',
      'AKIAIOSFODNN7EXAMPLE',
      'sk-...',
      'sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
      'ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
      '<your-api-key>',
      'YOUR_API_KEY',
      '${OPENAI_API_KEY}',
      'sk_live_XXXXXXXXXXXXXXXXXXXXXXXX',
      '********',
      'hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
      'REPLACE_ME',
    ]),
};
