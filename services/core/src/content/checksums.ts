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
