// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX, createNodeResolver } from 'eslint-plugin-import-x';

const SERVICES = '(core|shim|gateway|processor|alerter|cli)';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '.vitest-tmp/**',
      'data/**',
      'bench/results/**',
      'deploy/local/kafka/lib/**',
      'coverage/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js'] })] },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
      'import-x/no-self-import': 'error',
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportAllDeclaration', message: 'Name what a module exports: no `export *`.' },
      ],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^@aispm/[^/]+/.+',
              message: "Import a service only through its package root (its index.ts), e.g. '@aispm/core'.",
            },
            {
              regex: `^\\.\\.?/(.*/)?(services/)?${SERVICES}/src/`,
              message: "Import another service through its package name (e.g. '@aispm/core'), never its src/.",
            },
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
