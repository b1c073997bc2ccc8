import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['node_modules/', 'coverage/', 'dist/', 'bench/tmp/', 'test-logs/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
    },
  },
  {
    // The layering rule of DESIGN.md: domain and services depend on ports only.
    files: ['src/domain/**/*.ts', 'src/services/**/*.ts', 'src/ports.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['koa', '@koa/*', 'koa-*'], message: 'domain/ and services/ never import koa' },
          { group: ['mongoose', 'mongodb'], message: 'domain/ and services/ never import mongoose' },
          { group: ['ioredis'], message: 'domain/ and services/ never import ioredis' },
          { group: ['**/stores/**', '**/http/**', '**/oauth/**'], message: 'depend on ports.ts, not on implementations' },
        ],
      }],
    },
  },
  {
    // Only src/config reads the environment.
    files: ['src/**/*.ts'],
    ignores: ['src/config/**'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'only src/config reads process.env' }],
    },
  },
  {
    files: ['scripts/**', 'test/**', 'bench/**', 'src/cli.ts', 'src/main.ts'],
    rules: { 'no-console': 'off' },
  },
);
