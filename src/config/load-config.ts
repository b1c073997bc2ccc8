import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { formatProblems, type KeyFormat } from '../domain/api-key-format.ts';
import type { PlanLimits } from '../domain/limits.ts';
import type { Profile } from '../domain/profile.ts';
import { loadProfile } from './load-profile.ts';
import { ENVIRONMENTS, fileConfigSchema, plansSchema, type Config, type Environment, type FileConfig } from './config-schema.ts';

/** A setting that stops start-up; the message names it and says what is wrong. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Env = Record<string, string | undefined>;

interface EnvSetting {
  variable: string;
  key: keyof FileConfig;
  parse: (raw: string) => unknown;
  /** Never echo the value of a secret in an error. */
  secret?: boolean;
}

const integer = (raw: string): unknown => (/^\s*-?\d+\s*$/.test(raw) ? Number(raw) : raw);
const boolean = (raw: string): unknown => {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
  return raw;
};
const text = (raw: string): unknown => raw.trim();
const list = (raw: string): unknown => raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);

/** Environment variables and the setting each overrides. */
export const ENV_SETTINGS: readonly EnvSetting[] = [
  { variable: 'PORT', key: 'port', parse: integer },
  { variable: 'HOST', key: 'host', parse: text },
  { variable: 'BASE_URL', key: 'baseUrl', parse: text },
  { variable: 'LOG_LEVEL', key: 'logLevel', parse: (raw) => raw.trim().toLowerCase() },
  { variable: 'TESSERA_LOG_FILE', key: 'logFile', parse: text },
  { variable: 'MONGODB_URI', key: 'mongodbUri', parse: text, secret: true },
  { variable: 'REDIS_URL', key: 'redisUrl', parse: text, secret: true },
  { variable: 'TESSERA_REDIS_PREFIX', key: 'redisKeyPrefix', parse: text },
  { variable: 'TESSERA_SEED', key: 'seedFile', parse: text },
  { variable: 'TESSERA_COOKIE_KEYS', key: 'cookieKeys', parse: list, secret: true },
  { variable: 'TESSERA_TRUST_PROXY', key: 'trustProxy', parse: boolean },
  { variable: 'TESSERA_TRUSTED_PROXY_HOPS', key: 'trustedProxyHops', parse: integer },
  { variable: 'TESSERA_BODY_LIMIT_BYTES', key: 'bodyLimitBytes', parse: integer },
  { variable: 'TESSERA_STORE_TIMEOUT_MS', key: 'storeTimeoutMs', parse: integer },
  { variable: 'TESSERA_SHUTDOWN_TIMEOUT_MS', key: 'shutdownTimeoutMs', parse: integer },
  { variable: 'TESSERA_HEADERS_TIMEOUT_MS', key: 'headersTimeoutMs', parse: integer },
  { variable: 'TESSERA_REQUEST_TIMEOUT_MS', key: 'requestTimeoutMs', parse: integer },
  { variable: 'TESSERA_MAX_CONNECTIONS', key: 'maxConnections', parse: integer },
  { variable: 'TESSERA_PROFILE', key: 'profile', parse: text },
  { variable: 'TESSERA_KEY_PREFIX_LIVE', key: 'keyPrefixLive', parse: text },
  { variable: 'TESSERA_KEY_PREFIX_TEST', key: 'keyPrefixTest', parse: text },
  { variable: 'TESSERA_KEY_ALPHABET', key: 'keyAlphabet', parse: (raw) => raw.trim().toLowerCase() },
  { variable: 'TESSERA_KEY_LENGTH', key: 'keyBodyLength', parse: integer },
  { variable: 'TESSERA_KEY_CHECKSUM', key: 'keyChecksum', parse: boolean },
  { variable: 'TESSERA_SCOPES', key: 'resourceScopes', parse: (raw) => raw.split(/[\s,]+/).filter((s) => s.length > 0) },
  { variable: 'TESSERA_AUTH_FAILURES_PER_MINUTE', key: 'authFailuresPerMinute', parse: integer },
  { variable: 'TESSERA_KEY_RATE_LIMIT', key: 'keyRateLimitPerMinute', parse: integer },
  { variable: 'TESSERA_KEY_RATE_LIMIT_PER_DAY', key: 'keyRateLimitPerDay', parse: integer },
  { variable: 'TESSERA_PLANS_FILE', key: 'plansFile', parse: text },
  { variable: 'TESSERA_CREDIT_BALANCES', key: 'creditBalances', parse: boolean },
  { variable: 'TESSERA_USAGE_FLUSH_MS', key: 'usageFlushMs', parse: integer },
  { variable: 'TESSERA_LAST_USED_INTERVAL_MS', key: 'lastUsedIntervalMs', parse: integer },
  { variable: 'TESSERA_OAUTH_JWKS', key: 'oauthJwks', parse: text, secret: true },
  { variable: 'TESSERA_ACCESS_TOKEN_TTL_SECONDS', key: 'accessTokenTtlSeconds', parse: integer },
  { variable: 'TESSERA_REFRESH_TOKEN_LIFETIME_DAYS', key: 'refreshTokenLifetimeDays', parse: integer },
  { variable: 'TESSERA_REFRESH_REUSE_WINDOW_SECONDS', key: 'refreshReuseWindowSeconds', parse: integer },
  { variable: 'TESSERA_CACHE_MAX_AGE_MS', key: 'principalCacheMaxAgeMs', parse: integer },
  { variable: 'TESSERA_CACHE_MAX_ENTRIES', key: 'principalCacheMaxEntries', parse: integer },
  { variable: 'TESSERA_SESSION_IDLE_MINUTES', key: 'sessionIdleMinutes', parse: integer },
  { variable: 'TESSERA_SESSION_LIFETIME_HOURS', key: 'sessionLifetimeHours', parse: integer },
  { variable: 'TESSERA_BRAND_NAME', key: 'brandName', parse: text },
  { variable: 'TESSERA_BRAND_LOGO', key: 'brandLogoFile', parse: text },
  { variable: 'TESSERA_BRAND_COLOR', key: 'brandColor', parse: text },
];

const CONFIG_DIR = new URL('../../config/', import.meta.url);

/**
 * The only reader of the environment. Merges config/default.json, config/<NODE_ENV>.json and the
 * environment variables, validates the result once, and throws a ConfigError naming every bad
 * setting. Secrets missing in production are an error; elsewhere they are generated for this run
 * and listed in `generatedSecrets` so that start-up can warn.
 */
export function loadConfig(env: Env = process.env, configDir: URL = CONFIG_DIR): Config {
  const problems: string[] = [];
  const nodeEnv = (env.NODE_ENV?.trim() || 'development') as Environment;
  if (!ENVIRONMENTS.includes(nodeEnv)) {
    throw new ConfigError([`NODE_ENV: must be one of ${ENVIRONMENTS.join(', ')} (got "${env.NODE_ENV}")`]);
  }

  const merged: Record<string, unknown> = {
    ...readJson(new URL('default.json', configDir), problems),
    ...readJson(new URL(`${nodeEnv}.json`, configDir), problems, true),
  };
  const fromVariable = new Map<string, EnvSetting>();
  for (const setting of ENV_SETTINGS) {
    const raw = env[setting.variable];
    if (raw === undefined) continue;
    // An empty variable means "not set" for nullable settings (e.g. MONGODB_URI=).
    merged[setting.key] = raw.trim() === '' && merged[setting.key] === null ? null : setting.parse(raw);
    fromVariable.set(setting.key, setting);
  }

  const parsed = fileConfigSchema.safeParse(merged);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0] ?? '');
      const setting = fromVariable.get(key);
      if (setting) {
        const shown = setting.secret ? '' : ` (got "${String(env[setting.variable])}")`;
        problems.push(`${setting.variable}: ${issue.message}${shown}`);
      } else {
        problems.push(`config ${issue.path.join('.') || '(root)'}: ${issue.message}`);
      }
    }
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  const file = parsed.data;

  if ((file.mongodbUri === null) !== (file.redisUrl === null)) {
    problems.push('MONGODB_URI and REDIS_URL: set both (MongoDB and Redis) or neither (embedded memory stores)');
  }
  const storeMode = file.mongodbUri === null ? 'embedded' : 'external';
  if (nodeEnv === 'production' && storeMode === 'embedded') {
    problems.push('MONGODB_URI and REDIS_URL: required when NODE_ENV=production (the memory stores keep nothing)');
  }
  if (file.headersTimeoutMs > file.requestTimeoutMs) {
    problems.push(`TESSERA_HEADERS_TIMEOUT_MS: must not exceed TESSERA_REQUEST_TIMEOUT_MS (${file.requestTimeoutMs}), which includes the headers`);
  }
  if (file.seedFile !== null && !isReadableFile(file.seedFile)) {
    problems.push(`TESSERA_SEED: no readable file at "${file.seedFile}"`);
  }
  if (file.brandLogoFile !== null && (!isReadableFile(file.brandLogoFile) || !/\.(png|svg|jpe?g|webp)$/i.test(file.brandLogoFile))) {
    problems.push(`TESSERA_BRAND_LOGO: no readable .png, .svg, .jpg or .webp file at "${file.brandLogoFile}"`);
  }

  const generatedSecrets: string[] = [];
  let cookieKeys = file.cookieKeys;
  if (cookieKeys.length === 0) {
    if (nodeEnv === 'production') {
      problems.push('TESSERA_COOKIE_KEYS: required when NODE_ENV=production (comma-separated, each at least 32 characters)');
    } else {
      cookieKeys = [randomBytes(32).toString('base64url')];
      generatedSecrets.push('TESSERA_COOKIE_KEYS');
    }
  }
  let oauthKeys: Config['oauthKeys'] = { keys: [] };
  if (file.oauthJwks !== null) {
    const parsedKeys = parseJwks(file.oauthJwks);
    if (parsedKeys === null) problems.push('TESSERA_OAUTH_JWKS: must be a JSON Web Key Set with private keys ({"keys":[{"kty":…,"d":…}]})');
    else oauthKeys = parsedKeys;
  } else if (nodeEnv === 'production') {
    problems.push('TESSERA_OAUTH_JWKS: required when NODE_ENV=production (a private JWKS shared by every replica)');
  } else {
    oauthKeys = { keys: [generateSigningKey()] };
    generatedSecrets.push('TESSERA_OAUTH_JWKS');
  }

  const plans = loadPlans(file.plansFile === null ? new URL('plans.json', configDir) : file.plansFile, file.plansFile === null ? 'config/plans.json' : 'TESSERA_PLANS_FILE', problems);

  const profile = loadProfile(file.profile, new URL('profiles/', configDir), problems);
  if (problems.length > 0 || profile === null) throw new ConfigError(problems);
  const apiKeyFormat = resolveKeyFormat(profile.keyFormat, file);
  for (const problem of formatProblems(apiKeyFormat)) {
    problems.push(`API key format (TESSERA_PROFILE=${file.profile} and TESSERA_KEY_*): ${problem}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    ...file,
    profile,
    resourceScopes: [...new Set([...profile.scopes.resource, ...file.resourceScopes])],
    creditBalances: file.creditBalances ?? profile.limits.creditBalances,
    brandName: file.brandName ?? profile.product,
    oauthKeys,
    apiKeyFormat,
    env: nodeEnv,
    storeMode,
    cookieKeys,
    generatedSecrets,
    proxyHops: file.trustProxy ? file.trustedProxyHops : 0,
    plans,
    defaultLimits: defaultLimits(file, profile),
    baseUrl: file.baseUrl ?? `http://localhost:${file.port}`,
  };
}

/** A JWKS whose keys are all private (they sign); null when it is not one. */
function parseJwks(text: string): Config['oauthKeys'] | null {
  try {
    const value = JSON.parse(text) as { keys?: unknown };
    if (!Array.isArray(value.keys) || value.keys.length === 0) return null;
    const keys = value.keys as Array<Record<string, unknown>>;
    return keys.every((k) => typeof k === 'object' && k !== null && typeof k.kty === 'string' && typeof k.d === 'string') ? { keys } : null;
  } catch {
    return null;
  }
}

/** An ES256 signing key for this run only (embedded and development modes). */
export function generateSigningKey(): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...(privateKey.export({ format: 'jwk' }) as Record<string, unknown>), use: 'sig', alg: 'ES256', kid: randomBytes(8).toString('hex') };
}

/** What applies when neither a credential nor its plan sets a limit: the settings', else the profile's. */
function defaultLimits(file: FileConfig, profile: Profile): Config['defaultLimits'] {
  return {
    rateLimitPerMinute: file.keyRateLimitPerMinute ?? profile.limits.ratePerMinute,
    rateLimitPerDay: file.keyRateLimitPerDay ?? profile.limits.ratePerDay,
    dailySpendCap: null,
  };
}

/** The profile's key format with the parts the deployment overrides; a prefix of "none" turns it off. */
function resolveKeyFormat(preset: KeyFormat, file: FileConfig): KeyFormat {
  const prefix = (value: string | null, fallback: string | null): string | null => (value === null ? fallback : value === 'none' ? null : value);
  return {
    prefixes: { live: prefix(file.keyPrefixLive, preset.prefixes.live), test: prefix(file.keyPrefixTest, preset.prefixes.test) },
    alphabet: (file.keyAlphabet as KeyFormat['alphabet'] | null) ?? preset.alphabet,
    bodyLength: file.keyBodyLength ?? preset.bodyLength,
    checksum: file.keyChecksum ?? preset.checksum,
  };
}

/** The plans file, validated; problems name the setting (or the file) and the plan. */
function loadPlans(where: URL | string, setting: string, problems: string[]): Record<string, PlanLimits> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(where, 'utf8'));
  } catch (error) {
    problems.push(`${setting}: cannot read the plans (${(error as Error).message})`);
    return {};
  }
  const parsed = plansSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) problems.push(`${setting}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  return {};
}

function readJson(url: URL, problems: string[], optional = false): Record<string, unknown> {
  if (optional && !existsSync(url)) return {};
  try {
    const value: unknown = JSON.parse(readFileSync(url, 'utf8'));
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (error) {
    problems.push(`${url.pathname}: ${(error as Error).message}`);
    return {};
  }
}

function isReadableFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
