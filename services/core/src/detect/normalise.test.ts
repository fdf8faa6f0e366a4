import { describe, expect, it } from 'vitest';
import { countInvisible, normalise } from './normalise.ts';

describe('normalise', () => {
  it('folds case, Latin diacritics, full-width letters, typographic quotes and whitespace', () => {
    expect(normalise('Ｉｇｎｏｒｅ  Précédentes\n\tRÈGLES don’t “so”').text).toBe(
      "ignore precedentes regles don't “so”",
    );
  });

  it('keeps scripts that must not decompose: Hangul, kana, Cyrillic', () => {
    const text = '이전 지시 無視して Игнорируй';
    expect(normalise(text).text).toBe('이전 지시 無視して игнорируй');
  });

  it('folds look-alikes only in tokens that mix them with Latin letters', () => {
    // Cyrillic і, о, е inside a Latin word; a Russian word next to it stays Russian.
    const result = normalise('іgnоrе все');
    expect(result.text).toBe('ignore все');
    expect(result.homoglyphs).toBe(3);
    expect(result.homoglyphAt).toBe(0);
  });

  it('folds leetspeak in words, not in hashes, ordinals, versions or long encodings', () => {
    const result = normalise('1gn0r3 pr3v10us 1nstruct10ns sha256 3rd gpt-4o 9fceb02d0ae5 aWdub3JlIGFsbCBwcmV2aW91cw');
    expect(result.text).toBe('ignore previous instructions sha256 3rd gpt-4o 9fceb02d0ae5 awdub3jligfsbcbwcmv2aw91cw');
    expect(result.leet).toBeGreaterThanOrEqual(8);
  });

  it('ends on tokens mixing leet symbols and letters (a run of symbols is read once)', () => {
    expect(normalise('inflight@1.0.6 a$!b p@$$w0rd').text).toBe('inflight@1.0.6 asib password');
  });

  it('drops and counts invisible characters, and maps offsets back to the original', () => {
    const text = 'ig\u200bno\u200dre all';
    const result = normalise(text);
    expect(result.text).toBe('ignore all');
    expect(result.invisible).toBe(2);
    expect(result.invisibleFirst).toBe(2);
    // "all" starts at original offset 9 (two invisible characters before it).
    const at = result.text.indexOf('all');
    expect(result.from[at]).toBe(text.indexOf('all'));
    expect(result.to[result.text.length - 1]).toBe(text.length);
    expect(countInvisible(text)).toBe(2);
  });

  it('decodes Unicode tag characters to the ASCII they carry, outside the visible text', () => {
    const hidden = [...'ignore'].map((c) => String.fromCodePoint(0xe0000 + c.charCodeAt(0))).join('');
    const text = `hello ${hidden} world`;
    const result = normalise(text);
    expect(result.text).toBe('hello world');
    expect(result.tags).toEqual([{ start: 6, end: 6 + hidden.length, text: 'ignore' }]);
  });

  it('leaves a flag emoji tag sequence alone', () => {
    const scotland = '\u{1F3F4}\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}';
    expect(normalise(`go ${scotland}`).tags).toEqual([]);
  });

  it('reads Arabic with or without hamza and harakat the same', () => {
    expect(normalise('أَوامِر').text).toBe(normalise('اوامر').text);
  });
});
