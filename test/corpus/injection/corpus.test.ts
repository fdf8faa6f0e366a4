import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Checks the prompt-injection / jailbreak corpus: schema, uniqueness, minimum counts per label, language and
 * channel, and that no two texts of one language are near-duplicates (which would mean templated variation).
 */

const CHANNELS = ['user_prompt', 'tool_output', 'retrieved_doc', 'completion', 'tool_arguments'] as const;
const LANGS = ['en', 'de', 'fr', 'es', 'pt', 'it', 'zh', 'ja', 'ko', 'ru', 'ar'] as const;
const LABELS = ['attack', 'benign'] as const;
const KEYS = ['category', 'channel', 'id', 'label', 'lang', 'text'];

interface Entry {
  id: string;
  text: string;
  channel: (typeof CHANNELS)[number];
  label: (typeof LABELS)[number];
  lang: (typeof LANGS)[number];
  category: string;
}

const dir = import.meta.dirname;
const files = readdirSync(dir).filter((file) => file.endsWith('.jsonl'));
const lines = files.flatMap((file) => {
  const text = readFileSync(join(dir, file), 'utf8');
  return (text.endsWith('\n') ? text.slice(0, -1) : text)
    .split('\n')
    .map((raw, index) => ({ file, line: index + 1, raw }));
});

function parse(raw: string): Entry | undefined {
  try {
    return JSON.parse(raw) as Entry;
  } catch {
    return undefined;
  }
}

const parsed = lines.map((line) => ({ ...line, entry: parse(line.raw) }));
const entries: Entry[] = parsed.flatMap(({ entry }) => (entry ? [entry] : []));
const fileOf = new Map(parsed.flatMap(({ entry, file }) => (entry ? [[entry, file] as const] : [])));

function countBy(key: 'lang' | 'channel'): Map<string, Record<string, number>> {
  const counts = new Map<string, Record<string, number>>();
  for (const entry of entries) {
    const row = counts.get(entry[key]) ?? { attack: 0, benign: 0 };
    row[entry.label] = (row[entry.label] ?? 0) + 1;
    counts.set(entry[key], row);
  }
  return counts;
}

const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u;

/** Normalised tokens: NFKC, lower case, runs of letters and digits; Chinese and Japanese runs as character bigrams. */
function tokens(text: string): string[] {
  const set = new Set<string>();
  const words =
    text
      .normalize('NFKC')
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? [];
  for (const word of words) {
    if (!CJK.test(word)) {
      set.add(word);
      continue;
    }
    const chars = [...word];
    if (chars.length === 1) set.add(word);
    for (let i = 0; i + 1 < chars.length; i++) set.add(chars[i]! + chars[i + 1]!);
  }
  return [...set].sort();
}

function jaccard(a: string[], b: string[]): number {
  let i = 0;
  let j = 0;
  let shared = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      shared++;
      i++;
      j++;
    } else if (a[i]! < b[j]!) i++;
    else j++;
  }
  return shared / (a.length + b.length - shared);
}

describe('prompt-injection corpus', () => {
  it('has one file per language, each valid JSON Lines', () => {
    expect(files.sort()).toEqual(LANGS.map((lang) => `${lang}.jsonl`).sort());
    const invalid = parsed.filter(({ entry }) => entry === undefined).map(({ file, line }) => `${file}:${line}`);
    expect(invalid, 'lines that are not JSON objects').toEqual([]);
  });

  it('follows the schema', () => {
    for (const entry of entries) {
      const where = entry.id;
      expect(Object.keys(entry).sort(), where).toEqual(KEYS);
      expect(entry.id, where).toMatch(/^(atk|ben)-[a-z]{2}-\d{4}$/);
      expect(entry.id.slice(0, 3), where).toBe(entry.label === 'attack' ? 'atk' : 'ben');
      expect(entry.id.slice(4, 6), where).toBe(entry.lang);
      expect(typeof entry.text === 'string' && entry.text.trim().length > 0, where).toBe(true);
      expect(CHANNELS, where).toContain(entry.channel);
      expect(LABELS, where).toContain(entry.label);
      expect(LANGS, where).toContain(entry.lang);
      expect(entry.category, where).toMatch(/^[a-z_]+$/);
    }
    expect(entries.filter((entry) => fileOf.get(entry) !== `${entry.lang}.jsonl`).map((entry) => entry.id)).toEqual([]);
  });

  it('has unique ids and unique texts', () => {
    const ids = entries.map((entry) => entry.id);
    expect(ids.filter((id, index) => ids.indexOf(id) !== index)).toEqual([]);
    const seen = new Map<string, string>();
    const duplicates: string[] = [];
    for (const entry of entries) {
      const key = entry.text.normalize('NFKC').trim();
      const other = seen.get(key);
      if (other) duplicates.push(`${other} = ${entry.id}`);
      seen.set(key, entry.id);
    }
    expect(duplicates).toEqual([]);
  });

  it('meets the minimum counts per label, language and channel', () => {
    for (const label of LABELS) {
      expect(entries.filter((entry) => entry.label === label).length, label).toBeGreaterThanOrEqual(1500);
    }
    const byLang = countBy('lang');
    for (const lang of LANGS) {
      for (const label of LABELS) expect(byLang.get(lang)?.[label] ?? 0, `${lang} ${label}`).toBeGreaterThanOrEqual(60);
    }
    const byChannel = countBy('channel');
    for (const channel of CHANNELS) {
      for (const label of LABELS) {
        expect(byChannel.get(channel)?.[label] ?? 0, `${channel} ${label}`).toBeGreaterThanOrEqual(150);
      }
    }
  });

  it('has no near-duplicate texts within a language (token Jaccard < 0.9)', () => {
    const near: string[] = [];
    for (const lang of LANGS) {
      // Sorted by token count: Jaccard ≥ 0.9 needs the smaller set to hold ≥ 90% of the larger one's tokens.
      const items = entries
        .filter((entry) => entry.lang === lang)
        .map((entry) => ({ id: entry.id, tokens: tokens(entry.text) }))
        .sort((a, b) => a.tokens.length - b.tokens.length);
      for (let i = 0; i < items.length; i++) {
        const a = items[i]!;
        for (let j = i + 1; j < items.length; j++) {
          const b = items[j]!;
          if (a.tokens.length < 0.9 * b.tokens.length) break;
          if (jaccard(a.tokens, b.tokens) >= 0.9) near.push(`${a.id} ~ ${b.id}`);
        }
      }
    }
    expect(near).toEqual([]);
  });
});
