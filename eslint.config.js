// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importPlugin from 'eslint-plugin-import';

const SERVICES = '(core|bus|store|shim|gateway|processor|alerter|cli|sqlhttp)';

/** A service is used only through its package root; its src/ is private. */
const SERVICE_BOUNDARIES = [
  {
    regex: '^@aispm/[^/]+/.+',
    message: "Import a service only through its package root (its index.ts), e.g. '@aispm/core'.",
  },
  {
    regex: `^\\.\\.?/(.*/)?(services/)?${SERVICES}/src/`,
    message: "Import another service through its package name (e.g. '@aispm/core'), never its src/.",
  },
];

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '.vitest-tmp/**',
      'data/**',
      'bench/results/**',
      'deploy/local/kafka/lib/**',
      'coverage/**',
      '.venv-test/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { import: importPlugin },
    settings: {
      'import/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import/resolver': { node: { extensions: ['.ts', '.js'] } },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'import/no-cycle': 'error',
      'import/no-self-import': 'error',
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportAllDeclaration', message: 'Name what a module exports: no `export *`.' },
      ],
      'no-restricted-imports': ['error', { patterns: SERVICE_BOUNDARIES }],
    },
  },
  {
    files: ['services/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [...SERVICE_BOUNDARIES, { regex: '^@aispm/', message: 'core depends on no other service.' }],
        },
      ],
    },
  },
  {
    // The shim runs inside customers' apps: nothing pipeline-only, and kafkajs only as shipped.
    files: ['services/shim/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...SERVICE_BOUNDARIES,
            {
              regex: '^@aispm/(?!core$)',
              message: 'the shim depends on @aispm/core only (bus and store are pipeline-only).',
            },
            {
              regex: '^(chdb|@clickhouse/client|kafkajs/.+)',
              message: 'the shim carries no store and patches no library.',
            },
          ],
        },
      ],
    },
  },
  {
    // bus and store build on core only; core imports neither.
    files: ['services/bus/**/*.ts', 'services/store/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...SERVICE_BOUNDARIES,
            { regex: '^@aispm/(?!core$)', message: 'bus and store depend on @aispm/core only.' },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
