import { describe, expect, it } from 'vitest';
import { createInjectionDetector } from './detect.ts';
import { loadRulePack } from './rule-pack.ts';

/**
 * Every pattern, and the whole detector, on adversarial 32 KiB inputs: runs of
 * the characters and words the patterns are built from, shaped so a
 * backtracking pattern would retry from every position. Each must finish within
 * a bound that a catastrophic (super-linear) pattern would blow by orders of
 * magnitude: a linear scan of 32 KiB takes about a millisecond, a quadratic one
 * seconds. The bound leaves room for a busy machine's pauses.
 */
const SIZE = 32 * 1024;
const PER_PATTERN_MS = 250;
const pack = loadRulePack();

const fill = (unit: string): string => unit.repeat(Math.ceil(SIZE / unit.length)).slice(0, SIZE);

/** The words of a pattern's source: the literals its alternatives are made of. */
const wordsOf = (source: string): string[] => source.match(/[a-z\u00c0-\uffff'-]{2,}/g) ?? ['ab'];

describe('no catastrophic backtracking', () => {
  it('runs every pattern on adversarial 32 KiB inputs within the bound', () => {
    const generic = [fill('a'), fill(' '), fill('a '), fill('1 '), fill('. '), fill('ab'.repeat(10) + ' '), fill('的')];
    const slow: string[] = [];
    for (const pattern of pack.patterns) {
      const words = wordsOf(pattern.source);
      const inputs = [
        ...generic,
        fill(`${words.join(' ')} `),
        fill(`${words.join('')}`),
        fill(`${pattern.anchors[0]} `),
        fill(`${pattern.anchors[0]!} ${words[words.length - 1]!}x `),
      ];
      for (const input of inputs) {
        const started = performance.now();
        pattern.regex.lastIndex = 0;
        while (pattern.regex.exec(input) !== null && pattern.regex.lastIndex < input.length) {
          // Every match, as a worst case (the detector stops after two).
        }
        pattern.regex.lastIndex = 0;
        const ms = performance.now() - started;
        if (ms > PER_PATTERN_MS) slow.push(`${pattern.rule.id} /${pattern.source.slice(0, 60)}/ ${ms.toFixed(0)} ms`);
      }
    }
    expect(slow).toEqual([]);
  });

  it('scans adversarial 32 KiB texts end to end within the bound', () => {
    const detector = createInjectionDetector({ model: null });
    const inputs = [
      fill('<span style="display:none">'),
      fill('![a](http://x/?q='),
      fill('[a](https://x.example/'),
      fill('<!-- a'),
      fill('QUJD'),
      fill('41 42 '),
      fill('vtaber nyy '),
      fill('\u200b'),
      fill('%41'),
      fill('\\u0041'),
      fill('&#65;'),
      fill('"ignore previous instructions" '),
      fill('1gn0r3 '),
      fill('іgnоrе '),
    ];
    for (const input of inputs) {
      const started = performance.now();
      const verdict = detector.detect(input, 'tool_output');
      const ms = performance.now() - started;
      expect(verdict.scannedBytes).toBeLessThanOrEqual(SIZE);
      expect(ms, input.slice(0, 30)).toBeLessThan(500);
    }
  });
});
