import { describe, expect, it } from 'vitest';
import { CORPUS, ENCODINGS, core, readableForms, variants } from '../../../../test/privacy/corpus.ts';
import { redact } from './redact.ts';

/**
 * Every secret and PII format of the shared corpus, in every encoding it
 * travels in (plain, JSON, JSON in JSON, URL- and form-encoded, HTML
 * references, zero-width characters) and every spelling (spaced, dotted,
 * dashed, compact, lower case): after redaction nothing of it is readable.
 */
const cases = CORPUS.flatMap((entry) =>
  variants(entry).flatMap((value) =>
    Object.entries(ENCODINGS).map(([encoding, encode]) => ({
      name: `${entry.name} ${JSON.stringify(value)} ${encoding}`,
      value,
      input: encode(entry.text.replace(entry.value, value)),
    })),
  ),
);

describe('redact, corpus × encodings', () => {
  it('covers every format in every encoding', () => {
    expect(cases.length).toBeGreaterThan(CORPUS.length * Object.keys(ENCODINGS).length);
  });

  it.each(cases)('leaves nothing readable of $name', ({ value, input }) => {
    const output = redact(input).text;
    for (const form of readableForms(value)) expect(output).not.toContain(form);
    expect(core(output)).not.toContain(core(value));
  });

  it('changes nothing when applied to its own output', () => {
    for (const { input } of cases) {
      const once = redact(input).text;
      expect(redact(once).text).toBe(once);
    }
  });
});
