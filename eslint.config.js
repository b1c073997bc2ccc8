import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

// The layers of docs/architecture.md, lowest first. A layer imports only those below it:
//   errors → domain → ports → services → stores (beside services) → http → oauth → the roots
// (app.ts, main.ts, cli.ts), which wire them. The kit imports only the contracts it shares (bearer events, rate-limit headers, verify codes).
const packages = {
  koa: { group: ['koa', '@koa/*', 'koa-*'], message: 'Koa lives in http/ and oauth/ only' },
  mongoose: { group: ['mongoose', 'mongodb'], message: 'mongoose lives in stores/mongo/ only' },
  ioredis: { group: ['ioredis'], message: 'ioredis lives in stores/redis/ only' },
  oidcProvider: { group: ['oidc-provider'], message: 'oidc-provider lives in oauth/ only' },
};
const layer = (name, message) => ({ group: [`**/${name}/**`], message });
const file = (name, message) => ({ group: [`**/${name}`], message });
const below = {
  ports: file('ports.ts', 'a lower layer never depends on the store interfaces'),
  services: layer('services', 'a lower layer never depends on services/'),
  stores: layer('stores', 'depend on ports.ts, not on store implementations'),
  http: layer('http', 'a lower layer never depends on http/'),
  oauth: layer('oauth', 'http/ and lower layers never depend on oauth/'),
  config: layer('config', 'configuration reaches layers as values from the composition root'),
  roots: { group: ['**/app.ts', '**/main.ts', '**/cli.ts'], message: 'only the roots wire the layers' },
  logger: file('logger.ts', 'only the HTTP layers and the roots log'),
};
const restrict = (files, patterns) => ({ files, rules: { 'no-restricted-imports': ['error', { patterns }] } });

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
  restrict(['src/errors/**/*.ts'], [layer('domain', 'errors/ is the lowest layer'), below.ports, below.services, below.stores, below.http, below.oauth, below.config, below.roots, below.logger]),
  restrict(['src/domain/**/*.ts'], [below.ports, below.services, below.stores, below.http, below.oauth, below.config, below.roots, below.logger, ...Object.values(packages)]),
  restrict(['src/ports.ts'], [below.services, below.stores, below.http, below.oauth, below.config, below.roots, below.logger, ...Object.values(packages)]),
  restrict(['src/services/**/*.ts'], [below.stores, below.http, below.oauth, below.config, below.roots, below.logger, ...Object.values(packages)]),
  restrict(['src/stores/**/*.ts'], [below.services, below.http, below.oauth, below.config, below.roots, below.logger, packages.koa, packages.oidcProvider]),
  restrict(['src/config/**/*.ts'], [below.services, below.stores, below.http, below.oauth, below.roots, below.logger, ...Object.values(packages)]),
  restrict(['src/http/**/*.ts'], [below.stores, below.oauth, below.config, below.roots, packages.mongoose, packages.ioredis, packages.oidcProvider]),
  restrict(['src/oauth/**/*.ts'], [below.stores, below.config, below.roots, packages.mongoose, packages.ioredis]),
  restrict(['kit/**/*.ts'], [{ group: ['**/src/*', '!**/src/domain', '**/src/domain/*', '!**/src/domain/bearer-event.ts', '!**/src/domain/rate-limit-headers.ts', '!**/src/domain/verification.ts', '!**/src/domain/profile.ts'], message: 'the kit stands alone but for the contracts it shares with Tessera: bearer events, rate-limit headers, verify codes, product profiles' }]),
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
