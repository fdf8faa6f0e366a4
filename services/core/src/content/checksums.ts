/** The Luhn (mod 10) check every payment card number passes. */
export function passesLuhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/**
 * Whether the number starts like a card of a major scheme and has that scheme's
 * length (Visa, Mastercard, Amex, Diners, JCB, Discover, UnionPay, Maestro).
 * Luhn alone accepts one random number in ten; the prefix keeps order ids and
 * epoch timestamps from being masked.
 */
export function looksLikeCardNumber(digits: string): boolean {
  const n = digits.length;
  const two = Number(digits.slice(0, 2));
  const four = Number(digits.slice(0, 4));
  switch (digits[0]) {
    case '4':
      return n === 13 || n === 16 || n === 19;
    case '2':
      return n === 16 && four >= 2221 && four <= 2720;
    case '3':
      if (two === 34 || two === 37) return n === 15;
      if (two === 35) return n >= 16 && n <= 19;
      return (two === 30 || two === 36 || two === 38 || two === 39) && n >= 14 && n <= 19;
    case '5':
      if (two >= 51 && two <= 55) return n === 16;
      return n >= 13 && n <= 19;
    case '6':
      return n >= 16 && n <= 19;
    default:
      return false;
  }
}

/** ISO 13616 IBAN check: move the first four characters to the end, read letters as 10..35, the number mod 97 is 1. */
export function passesIbanCheck(compact: string): boolean {
  const rearranged = compact.slice(4) + compact.slice(0, 4);
  let rest = 0;
  for (const char of rearranged) {
    const code = char.charCodeAt(0);
    const value = code >= 65 ? code - 55 : code - 48;
    rest = value >= 10 ? (rest * 100 + value) % 97 : (rest * 10 + value) % 97;
  }
  return rest === 1;
}

/** Digit values of a string of ASCII digits (callers pass digits only). */
const digitsOf = (digits: string): number[] => [...digits].map((d) => d.charCodeAt(0) - 48);

/** The remainder of a long decimal number mod 97, digit by digit. */
function mod97(digits: string): number {
  let rest = 0;
  for (let i = 0; i < digits.length; i++) rest = (rest * 10 + digits.charCodeAt(i) - 48) % 97;
  return rest;
}

/**
 * French NIR (numéro de sécurité sociale), 15 characters without separators:
 * sex 1/2 (7/8 for provisional numbers), year, month (01-12, or 20-42 and 50-99
 * for unknown months), department (2A/2B for Corsica), commune, order, and a
 * key of 97 minus the first 13 digits mod 97 (2A reads as 19, 2B as 18).
 */
export function passesNirKey(compact: string): boolean {
  if (!/^[1278]\d{4}(?:\d{2}|2[AB])\d{8}$/i.test(compact)) return false;
  const month = Number(compact.slice(3, 5));
  if (month === 0 || (month > 12 && month < 20) || (month > 42 && month < 50)) return false;
  const upper = compact.toUpperCase();
  const body = upper.slice(0, 13).replace('2A', '19').replace('2B', '18');
  return 97 - mod97(body) === Number(upper.slice(13));
}

const DNI_LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE';

/** Spanish DNI (8 digits and a letter) or NIE (X/Y/Z, 7 digits, a letter): the letter is the number mod 23. */
export function passesDniLetter(compact: string): boolean {
  const upper = compact.toUpperCase();
  const match = /^([XYZ]?)(\d{7,8})([A-Z])$/.exec(upper);
  if (!match) return false;
  const [, prefix, number, letter] = match;
  if ((prefix === '' && number!.length !== 8) || (prefix !== '' && number!.length !== 7)) return false;
  const value = Number(`${prefix === '' ? '' : 'XYZ'.indexOf(prefix!)}${number}`);
  return DNI_LETTERS[value % 23] === letter;
}

/** Odd-position values of the Italian codice fiscale check character, for 0-9 then A-Z. */
const CF_ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];
/** Digits replaced by letters in the codice fiscale of a person whose code was taken (omocodia). */
const CF_OMOCODE = 'LMNPQRSTUV';

/**
 * Italian codice fiscale: 6 letters (surname, name), 2 digits (year), a month
 * letter, 2 digits (day, +40 for women), a letter and 3 digits (place), and a
 * check letter from the 15 before it; digits may be replaced by LMNPQRSTUV.
 */
export function passesCodiceFiscale(code: string): boolean {
  const upper = code.toUpperCase();
  const digit = `[0-9${CF_OMOCODE}]`;
  const shape = new RegExp(`^[A-Z]{6}${digit}{2}[ABCDEHLMPRST]${digit}{2}[A-Z]${digit}{3}[A-Z]$`);
  if (!shape.test(upper)) return false;
  let sum = 0;
  for (let i = 0; i < 15; i++) {
    const c = upper.charCodeAt(i);
    const index = c <= 57 ? c - 48 : c - 65;
    // 1-based odd positions are 0-based even ones.
    sum += i % 2 === 0 ? CF_ODD[index]! : index;
  }
  return String.fromCharCode(65 + (sum % 26)) === upper[15];
}

/** ISO 7064 MOD 11,10 check digit over the digits before it (German Steuer-ID, Croatian OIB). */
export function passesIso7064Mod11_10(digits: string): boolean {
  let product = 10;
  for (let i = 0; i < digits.length - 1; i++) {
    let sum = (digits.charCodeAt(i) - 48 + product) % 10;
    if (sum === 0) sum = 10;
    product = (sum * 2) % 11;
  }
  const check = (11 - product) % 10;
  return check === digits.charCodeAt(digits.length - 1) - 48;
}

/**
 * German Steuerliche Identifikationsnummer: 11 digits, no leading 0; in the first
 * ten, one digit occurs twice or three times (three times never in a row) and
 * every other digit at most once; the last is the ISO 7064 MOD 11,10 check digit.
 */
export function passesSteuerId(digits: string): boolean {
  if (!/^[1-9]\d{10}$/.test(digits)) return false;
  const counts = new Array<number>(10).fill(0);
  for (const d of digitsOf(digits.slice(0, 10))) counts[d]!++;
  const repeated = counts.filter((c) => c > 1);
  if (repeated.length !== 1 || repeated[0]! > 3) return false;
  if (repeated[0] === 3 && /(\d)\1\1/.test(digits.slice(0, 10))) return false;
  return passesIso7064Mod11_10(digits);
}

/** Brazilian CPF: 11 digits, the last two mod-11 check digits; a run of one digit is invalid. */
export function passesCpf(digits: string): boolean {
  if (!/^\d{11}$/.test(digits) || /^(\d)\1{10}$/.test(digits)) return false;
  const d = digitsOf(digits);
  for (const length of [9, 10]) {
    let sum = 0;
    for (let i = 0; i < length; i++) sum += d[i]! * (length + 1 - i);
    const check = ((sum * 10) % 11) % 10;
    if (check !== d[length]) return false;
  }
  return true;
}

const VERHOEFF_D = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
  [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
  [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
  [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
  [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
  [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
  [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
  [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
  [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_P = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
  [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
  [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
  [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
  [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
  [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
  [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/** The Verhoeff check (Indian Aadhaar): the digits, check digit last, reduce to 0. */
export function passesVerhoeff(digits: string): boolean {
  let c = 0;
  const d = digitsOf(digits).reverse();
  for (let i = 0; i < d.length; i++) c = VERHOEFF_D[c]![VERHOEFF_P[i % 8]![d[i]!]!]!;
  return c === 0;
}

/** Indian Aadhaar: 12 digits, not starting with 0 or 1, Verhoeff check digit last. */
export function passesAadhaar(digits: string): boolean {
  return /^[2-9]\d{11}$/.test(digits) && passesVerhoeff(digits);
}

/** Canadian SIN: 9 digits passing Luhn; 0 (unassigned) and 8 (business numbers) never lead one. */
export function passesSin(digits: string): boolean {
  return /^[1-79]\d{8}$/.test(digits) && passesLuhn(digits);
}

/** UK National Insurance number prefixes that are never issued. */
const NINO_BAD_PREFIX = new Set(['BG', 'GB', 'NK', 'KN', 'TN', 'NT', 'ZZ']);

/** UK NINO: two letters (no D F I Q U V; no O second; no BG GB NK KN TN NT ZZ), six digits, A-D. No check digit. */
export function looksLikeNino(compact: string): boolean {
  const upper = compact.toUpperCase();
  return /^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]$/.test(upper) && !NINO_BAD_PREFIX.has(upper.slice(0, 2));
}
