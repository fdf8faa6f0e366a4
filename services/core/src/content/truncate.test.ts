import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { truncateUtf8 } from './truncate.ts';

describe('truncateUtf8', () => {
  it('keeps a text that fits', () => {
    expect(truncateUtf8('héllo', 6)).toBe('héllo');
  });

  it('never splits a multi-byte character or a surrogate pair', () => {
    expect(truncateUtf8('héllo', 2)).toBe('h');
    expect(truncateUtf8('a😀b', 4)).toBe('a');
    expect(truncateUtf8('a😀b', 5)).toBe('a😀');
    expect(truncateUtf8('日本語', 7)).toBe('日本');
    expect(truncateUtf8('abc', 0)).toBe('');
  });

  it('never exceeds the byte bound and yields a prefix that is valid UTF-8', () => {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), fc.nat(600), (text, maxBytes) => {
        const cut = truncateUtf8(text, maxBytes);
        const bytes = Buffer.from(cut, 'utf8');
        expect(bytes.length).toBeLessThanOrEqual(maxBytes);
        expect(text.startsWith(cut)).toBe(true);
        expect(decoder.decode(bytes)).toBe(cut);
        // The longest such prefix: one more code point would not fit.
        const next = text.slice(cut.length).codePointAt(0);
        if (next !== undefined)
          expect(bytes.length + Buffer.byteLength(String.fromCodePoint(next))).toBeGreaterThan(maxBytes);
      }),
      { numRuns: 1000 },
    );
  });
});
