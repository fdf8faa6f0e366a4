import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_KEYS } from '@aispm/core';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

describe('README', () => {
  it.each(Object.values(CONFIG_KEYS).map((key) => [key.env, key.default] as const))(
    'documents %s with its real default',
    (env, fallback) => {
      const row = readme.split('\n').find((line) => new RegExp(`^\\|\\s*\`${env}\`\\s*\\|`).test(line));
      expect(row, `README configuration table has no row for ${env}`).toBeDefined();
      const shown = Array.isArray(fallback) ? fallback.join(',') : fallback;
      if (shown === null || shown === '') return;
      expect(row).toContain(`\`${String(shown)}\``);
    },
  );

  it('gives the two quick-start commands, and CI runs the test one verbatim', () => {
    expect(readme).toContain('npm ci && npm run demo');
    expect(readme).toContain('npm ci && npm test');
    expect(readFileSync(join(root, '.ci/run'), 'utf8')).toMatch(/^npm ci && npm test$/m);
  });
});
