import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from '../../../src/config/index.ts';

const KEY = 'k'.repeat(40);
const JWKS = JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'd', kid: 'k1' }] });

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('runs embedded on port 3000 with nothing set, generating the cookie keys and saying so', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ env: 'development', port: 3000, baseUrl: 'http://localhost:3000', storeMode: 'embedded', mongodbUri: null, redisUrl: null });
    expect(config.cookieKeys).toHaveLength(1);
    expect(config.cookieKeys[0]!.length).toBeGreaterThanOrEqual(32);
    expect(config.generatedSecrets).toEqual(['TESSERA_COOKIE_KEYS', 'TESSERA_OAUTH_JWKS']);
    expect(config.oauthKeys.keys).toEqual([expect.objectContaining({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', d: expect.any(String) })]);
    expect(loadConfig({}).cookieKeys[0]).not.toBe(config.cookieKeys[0]);
  });

  it('takes every setting from the environment', () => {
    const config = loadConfig({
      PORT: '8080',
      BASE_URL: 'https://id.example.com/',
      LOG_LEVEL: 'DEBUG',
      MONGODB_URI: 'mongodb://db:27017/tessera',
      REDIS_URL: 'redis://cache:6379',
      TESSERA_COOKIE_KEYS: `${KEY}, ${'j'.repeat(32)}`,
      TESSERA_TRUST_PROXY: 'true',
      TESSERA_TRUSTED_PROXY_HOPS: '2',
      TESSERA_BODY_LIMIT_BYTES: '2048',
      TESSERA_OAUTH_JWKS: JWKS,
    });
    expect(config).toMatchObject({
      port: 8080,
      baseUrl: 'https://id.example.com',
      logLevel: 'debug',
      storeMode: 'external',
      mongodbUri: 'mongodb://db:27017/tessera',
      redisUrl: 'redis://cache:6379',
      cookieKeys: [KEY, 'j'.repeat(32)],
      trustProxy: true,
      proxyHops: 2,
      bodyLimitBytes: 2048,
      generatedSecrets: [],
    });
  });

  it('trusts one proxy hop behind a trusted proxy unless told more, and none otherwise', () => {
    expect(loadConfig({ TESSERA_TRUST_PROXY: 'true' }).proxyHops).toBe(1);
    expect(loadConfig({ TESSERA_TRUSTED_PROXY_HOPS: '3' }).proxyHops).toBe(0);
  });

  it('defaults BASE_URL to localhost on the configured port', () => {
    expect(loadConfig({ PORT: '4000' }).baseUrl).toBe('http://localhost:4000');
  });

  it('reads defaults per environment from config/', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).host).toBe('127.0.0.1');
    expect(loadConfig({}).host).toBe('0.0.0.0');
  });

  it.each([
    [{ PORT: 'abc' }, /^PORT: .*\(got "abc"\)$/],
    [{ PORT: '70000' }, /^PORT: /],
    [{ BASE_URL: 'ftp://x' }, /^BASE_URL: must start with http/],
    [{ BASE_URL: 'http://x/?q=1' }, /^BASE_URL: must not contain a query/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL: /],
    [{ TESSERA_TRUST_PROXY: 'maybe' }, /^TESSERA_TRUST_PROXY: /],
    [{ TESSERA_TRUSTED_PROXY_HOPS: '0' }, /^TESSERA_TRUSTED_PROXY_HOPS: /],
    [{ TESSERA_HEADERS_TIMEOUT_MS: '20000', TESSERA_REQUEST_TIMEOUT_MS: '10000' }, /^TESSERA_HEADERS_TIMEOUT_MS: must not exceed TESSERA_REQUEST_TIMEOUT_MS/],
    [{ TESSERA_MAX_CONNECTIONS: '0' }, /^TESSERA_MAX_CONNECTIONS: /],
    [{ TESSERA_BODY_LIMIT_BYTES: '10' }, /^TESSERA_BODY_LIMIT_BYTES: /],
    [{ TESSERA_SEED: '/nonexistent/seed.json' }, /^TESSERA_SEED: no readable file at "\/nonexistent\/seed.json"$/],
    [{ NODE_ENV: 'staging' }, /^NODE_ENV: must be one of/],
    [{ TESSERA_KEY_RATE_LIMIT: '0' }, /^TESSERA_KEY_RATE_LIMIT: /],
    [{ TESSERA_KEY_RATE_LIMIT: '-5' }, /^TESSERA_KEY_RATE_LIMIT: /],
    [{ TESSERA_KEY_RATE_LIMIT_PER_DAY: '2000000000' }, /^TESSERA_KEY_RATE_LIMIT_PER_DAY: /],
    [{ TESSERA_KEY_RATE_LIMIT_PER_DAY: '1.5' }, /^TESSERA_KEY_RATE_LIMIT_PER_DAY: /],
    [{ TESSERA_USAGE_FLUSH_MS: '0' }, /^TESSERA_USAGE_FLUSH_MS: /],
    [{ TESSERA_CREDIT_BALANCES: 'sometimes' }, /^TESSERA_CREDIT_BALANCES: /],
    [{ TESSERA_PLANS_FILE: '/nonexistent/plans.json' }, /^TESSERA_PLANS_FILE: cannot read the plans/],
  ])('refuses %j, naming the setting', (env, pattern) => {
    expect(problemsOf(env)).toEqual([expect.stringMatching(pattern)]);
  });

  it('refuses a JWKS without private keys, never echoing it', () => {
    const problems = problemsOf({ TESSERA_OAUTH_JWKS: JSON.stringify({ keys: [{ kty: 'EC', x: 'public-only' }] }) });
    expect(problems).toEqual([expect.stringMatching(/^TESSERA_OAUTH_JWKS: must be a JSON Web Key Set with private keys/)]);
    expect(problems.join('')).not.toContain('public-only');
    expect(problemsOf({ TESSERA_OAUTH_JWKS: 'not json' })).toHaveLength(1);
  });

  it('reports every bad setting at once', () => {
    expect(problemsOf({ PORT: 'x', LOG_LEVEL: 'y' })).toHaveLength(2);
  });

  it('never echoes a secret in an error', () => {
    const problems = problemsOf({ TESSERA_COOKIE_KEYS: 'short-secret-value', MONGODB_URI: 'postgres://user:hunter2@db', REDIS_URL: 'redis://r' });
    expect(problems.join('\n')).not.toMatch(/short-secret-value|hunter2/);
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(/^TESSERA_COOKIE_KEYS: each key must be at least 32/), expect.stringMatching(/^MONGODB_URI: must start with mongodb/)]));
  });

  it('wants both MongoDB and Redis, or neither', () => {
    expect(problemsOf({ MONGODB_URI: 'mongodb://db/t' })).toEqual([expect.stringMatching(/^MONGODB_URI and REDIS_URL: set both/)]);
    expect(problemsOf({ REDIS_URL: 'redis://r' })).toEqual([expect.stringMatching(/^MONGODB_URI and REDIS_URL: set both/)]);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ MONGODB_URI: '', REDIS_URL: '' }).storeMode).toBe('embedded');
  });

  it('in production, requires the stores and the secrets instead of generating them', () => {
    expect(problemsOf({ NODE_ENV: 'production' })).toEqual([
      expect.stringMatching(/^MONGODB_URI and REDIS_URL: required when NODE_ENV=production/),
      expect.stringMatching(/^TESSERA_COOKIE_KEYS: required when NODE_ENV=production/),
      expect.stringMatching(/^TESSERA_OAUTH_JWKS: required when NODE_ENV=production/),
    ]);
    const config = loadConfig({ NODE_ENV: 'production', MONGODB_URI: 'mongodb://db/t', REDIS_URL: 'redis://r', TESSERA_COOKIE_KEYS: KEY, TESSERA_OAUTH_JWKS: JWKS });
    expect(config.generatedSecrets).toEqual([]);
    expect(config.cookieKeys).toEqual([KEY]);
  });

  describe('plans', () => {
    const plansFile = (plans: unknown): string => {
      const path = join(mkdtempSync(join(tmpdir(), 'plans-')), 'plans.json');
      writeFileSync(path, typeof plans === 'string' ? plans : JSON.stringify(plans));
      return path;
    };

    it('reads config/plans.json by default, and another file when told', () => {
      expect(Object.keys(loadConfig({}).plans)).toEqual(['free', 'lite', 'premium', 'academic', 'team']);
      const config = loadConfig({ TESSERA_PLANS_FILE: plansFile({ pro: { rate_limit_per_minute: 100, rate_limit_per_day: 10_000, daily_spend_cap: 0, organization: { rate_limit_per_day: 50_000 } } }) });
      expect(config.plans).toEqual({
        pro: { credential: { rateLimitPerMinute: 100, rateLimitPerDay: 10_000, dailySpendCap: 0 }, organization: { rateLimitPerMinute: null, rateLimitPerDay: 50_000 } },
      });
    });

    it.each([
      [{ pro: { rate_limit_per_minute: 0 } }, 'pro.rate_limit_per_minute: must be at least 1'],
      [{ pro: { rate_limit_per_day: -1 } }, 'pro.rate_limit_per_day: must be at least 1'],
      [{ pro: { rate_limit_per_day: 1e10 } }, 'pro.rate_limit_per_day: must be at most 1000000000'],
      [{ pro: { daily_spend_cap: 2.5 } }, 'pro.daily_spend_cap: must be a whole number of credits'],
      [{ pro: { organization: { rate_limit_per_minute: 0 } } }, 'pro.organization.rate_limit_per_minute: must be at least 1'],
      [{ pro: { per_hour: 5 } }, 'pro: Unrecognized key: "per_hour"'],
      [{ 'Pro Plan': {} }, 'Pro Plan: plan names are 1–64 lower-case letters, digits, _ or -'],
    ])('refuses %j, naming the setting and the field', (plans, message) => {
      expect(problemsOf({ TESSERA_PLANS_FILE: plansFile(plans) })).toEqual([`TESSERA_PLANS_FILE: ${message}`]);
    });

    it('refuses a plans file that is not JSON, or has no plan', () => {
      expect(problemsOf({ TESSERA_PLANS_FILE: plansFile('{"free":') })).toEqual([expect.stringMatching(/^TESSERA_PLANS_FILE: cannot read the plans/)]);
      expect(problemsOf({ TESSERA_PLANS_FILE: plansFile({}) })).toEqual([expect.stringMatching(/^TESSERA_PLANS_FILE: /)]);
    });
  });
});
