import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONTENT_CHANNELS, createSensitiveDetector, PII_KINDS, SECRET_KINDS, type ContentChannel } from '@aispm/core';

/**
 * The labeled PII and secrets corpus (README.md here): its shape and coverage,
 * and the floors the sensitive detector must meet on it. The floors sit below
 * the measured figures (recall 0.966, false-positive rate 0.000 when they were
 * set) so a change that loses ground fails, not one that moves noise.
 */
const RECALL_FLOOR = 0.95;
const FPR_CEILING = 0.01;
/** Per-family floors: PII and secrets separately. */
const FAMILY_RECALL_FLOOR = 0.93;

interface Row {
  id: string;
  lang: string;
  channel: ContentChannel;
  label: 'sensitive' | 'benign';
  kinds: string[];
  shape: string;
  text: string;
}

const dir = import.meta.dirname;
const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl'));
const lines = files.flatMap((file) =>
  readFileSync(join(dir, file), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, index) => ({ file, index, line })),
);
const rows: Row[] = lines.map(({ line }) => JSON.parse(line) as Row);
const KINDS = new Set<string>([...PII_KINDS, ...SECRET_KINDS]);
const isPii = (kind: string): boolean => (PII_KINDS as readonly string[]).includes(kind);

describe('sensitive corpus', () => {
  it('has well-formed rows with unique ids', () => {
    const ids = new Set<string>();
    for (const row of rows) {
      expect(Object.keys(row).sort()).toEqual(['channel', 'id', 'kinds', 'label', 'lang', 'shape', 'text']);
      expect(row.id).toMatch(/^sens-[a-z]{2}-\d{4}$/);
      expect(ids.has(row.id), row.id).toBe(false);
      ids.add(row.id);
      expect(CONTENT_CHANNELS).toContain(row.channel);
      expect(['sensitive', 'benign']).toContain(row.label);
      expect(row.text.length).toBeGreaterThan(0);
      for (const kind of row.kinds) expect(KINDS.has(kind), kind).toBe(true);
      if (row.label === 'benign') expect(row.kinds).toEqual([]);
      else expect(row.kinds.length).toBeGreaterThan(0);
    }
  });

  it('holds at least 1,500 sensitive and 1,500 benign texts, every language in its own file', () => {
    expect(rows.filter((r) => r.label === 'sensitive').length).toBeGreaterThanOrEqual(1500);
    expect(rows.filter((r) => r.label === 'benign').length).toBeGreaterThanOrEqual(1500);
    for (const { file, line } of lines) expect(file).toBe(`${(JSON.parse(line) as Row).lang}.jsonl`);
  });

  it('covers every channel and six languages, with both labels in each', () => {
    for (const channel of CONTENT_CHANNELS) {
      for (const label of ['sensitive', 'benign'] as const) {
        expect(
          rows.filter((r) => r.channel === channel && r.label === label).length,
          `${channel} ${label}`,
        ).toBeGreaterThanOrEqual(40);
      }
    }
    for (const lang of ['en', 'de', 'fr', 'es', 'pt', 'it']) {
      for (const label of ['sensitive', 'benign'] as const) {
        expect(
          rows.filter((r) => r.lang === lang && r.label === label).length,
          `${lang} ${label}`,
        ).toBeGreaterThanOrEqual(100);
      }
    }
  });

  it('has tool arguments that are JSON objects', () => {
    for (const row of rows.filter((r) => r.channel === 'tool_arguments')) {
      const parsed: unknown = JSON.parse(row.text);
      expect(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed), row.id).toBe(true);
    }
  });

  it('is varied: many shapes, lengths from a line to a page, few repeated texts', () => {
    expect(new Set(rows.map((r) => r.shape)).size).toBeGreaterThanOrEqual(40);
    const lengths = rows.map((r) => r.text.length).sort((a, b) => a - b);
    expect(lengths[Math.floor(lengths.length * 0.1)]).toBeLessThan(120);
    expect(lengths[Math.floor(lengths.length * 0.9)]).toBeGreaterThan(400);
    expect(lengths.at(-1)).toBeGreaterThan(1000);
    expect(new Set(rows.map((r) => r.text)).size).toBe(rows.length);
  });

  it('covers every PII kind with a check and the common secrets', () => {
    const covered = new Set(rows.flatMap((r) => r.kinds));
    for (const kind of [
      ...['email', 'phone', 'credit_card', 'iban', 'us_ssn', 'ipv4', 'uk_nino', 'ca_sin', 'fr_nir', 'es_dni'],
      ...['it_codice_fiscale', 'de_tax_id', 'br_cpf', 'in_aadhaar', 'private_key', 'jwt', 'aws_access_key'],
      ...['github_token', 'openai_api_key', 'anthropic_api_key', 'password', 'connection_string', 'bearer_token'],
    ])
      expect(covered.has(kind), kind).toBe(true);
  });

  it(`is detected with recall ≥ ${RECALL_FLOOR} at a false-positive rate ≤ ${FPR_CEILING}`, () => {
    const detector = createSensitiveDetector();
    let tp = 0;
    let fn = 0;
    let fp = 0;
    let tn = 0;
    const family = { pii: { found: 0, all: 0 }, secret: { found: 0, all: 0 } };
    const falsePositives: string[] = [];
    for (const row of rows) {
      const flagged = detector.detect(row.text, row.channel).length > 0;
      if (row.label === 'sensitive') {
        if (flagged) tp++;
        else fn++;
        for (const name of ['pii', 'secret'] as const) {
          if (row.kinds.some((kind) => isPii(kind) === (name === 'pii'))) {
            family[name].all++;
            if (flagged) family[name].found++;
          }
        }
      } else if (flagged) {
        fp++;
        falsePositives.push(row.id);
      } else tn++;
    }
    const recall = tp / (tp + fn);
    const fpr = fp / (fp + tn);
    expect(recall).toBeGreaterThanOrEqual(RECALL_FLOOR);
    expect(fpr, falsePositives.slice(0, 10).join(', ')).toBeLessThanOrEqual(FPR_CEILING);
    expect(family.pii.found / family.pii.all).toBeGreaterThanOrEqual(FAMILY_RECALL_FLOOR);
    expect(family.secret.found / family.secret.all).toBeGreaterThanOrEqual(FAMILY_RECALL_FLOOR);
  });
});
