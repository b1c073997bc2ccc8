import { z } from 'zod';
import { ALPHABETS, type KeyFormat } from '../domain/api-key-format.ts';
import { MAX_LIMIT, type CredentialLimits, type PlanLimits } from '../domain/limits.ts';
import type { Profile } from '../domain/profile.ts';
import { SCOPE_PATTERN } from '../domain/scopes.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const ENVIRONMENTS = ['development', 'test', 'production'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

const httpUrl = z
  .string()
  .url('must be an absolute URL')
  .refine((v) => /^https?:\/\//.test(v), 'must start with http:// or https://')
  .refine((v) => !/[?#]/.test(v), 'must not contain a query or fragment')
  .transform((v) => v.replace(/\/+$/, ''));

/** Cookie-signing keys: long enough that they cannot be guessed (HMAC keys of ≥ 256 bits as text). */
const secretKey = z.string().min(32, 'each key must be at least 32 characters');

/** The settings as the JSON files in config/ hold them (and env variables override them). */
export const fileConfigSchema = z
  .object({
    port: z.number().int().min(0).max(65535),
    host: z.string().min(1),
    baseUrl: httpUrl.nullable(),
    logLevel: z.enum(LOG_LEVELS),
    logFile: z.string().min(1).nullable(),
    mongodbUri: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://').nullable(),
    redisUrl: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').nullable(),
    redisKeyPrefix: z.string().max(64),
    seedFile: z.string().min(1).nullable(),
    cookieKeys: z.array(secretKey),
    trustProxy: z.boolean(),
    /** How many proxies that append to X-Forwarded-For stand in front, when trustProxy is set. */
    trustedProxyHops: z.number().int().min(1).max(16),
    bodyLimitBytes: z.number().int().min(1024).max(10 * 1024 * 1024),
    storeTimeoutMs: z.number().int().min(100).max(60_000),
    shutdownTimeoutMs: z.number().int().min(100).max(300_000),
    /** A request's headers must arrive within this (408 and the connection closed after it). */
    headersTimeoutMs: z.number().int().min(100).max(300_000),
    /** A whole request, headers and body, must arrive within this. */
    requestTimeoutMs: z.number().int().min(100).max(300_000),
    /** Connections open at once; one beyond is closed at once. */
    maxConnections: z.number().int().min(1).max(1_000_000),
    /** The product profile (config/profiles/<name>.json, or a path to one): the product's documented contract. */
    profile: z.string().min(1),
    /** Prefix of live keys; "none" for a deployment without them. */
    keyPrefixLive: z.string().min(1).nullable(),
    keyPrefixTest: z.string().min(1).nullable(),
    keyAlphabet: z.enum(Object.keys(ALPHABETS) as [string, ...string[]]).nullable(),
    keyBodyLength: z.number().int().min(1).max(256).nullable(),
    keyChecksum: z.boolean().nullable(),
    /** The deployment's own resource scopes, next to Tessera's built-in ones. */
    resourceScopes: z.array(z.string().regex(SCOPE_PATTERN, 'each scope must be letters, digits, _ . - separated by colons')),
    /** Failed authentications per client address per minute before 429 (key guessing). */
    authFailuresPerMinute: z.number().int().min(1).max(100_000),
    /** Default per-credential request limits when neither the credential nor its plan sets one; null: the profile's. */
    keyRateLimitPerMinute: z.number().int().min(1).max(MAX_LIMIT).nullable(),
    keyRateLimitPerDay: z.number().int().min(1).max(MAX_LIMIT).nullable(),
    /** The plans' limits: a JSON file (config/plans.json by default). */
    plansFile: z.string().min(1).nullable(),
    /** Whether every cost draws on its organization's credit balance (402 once it is spent); null: as the profile says. */
    creditBalances: z.boolean().nullable(),
    /** How often metered usage is written to the store of record. */
    usageFlushMs: z.number().int().min(100).max(300_000),
    /** lastUsedAt is written at most this often per key. */
    lastUsedIntervalMs: z.number().int().min(0).max(3_600_000),
    /** Private signing keys of the OAuth server (a JWKS as JSON); shared by every replica. */
    oauthJwks: z.string().min(2).nullable(),
    accessTokenTtlSeconds: z.number().int().min(60).max(86_400),
    /** Absolute lifetime of a chain of rotated refresh tokens, from the first one. */
    refreshTokenLifetimeDays: z.number().int().min(1).max(3_650),
    /** How long a just-rotated refresh token may be presented again for the same successor pair. */
    refreshReuseWindowSeconds: z.number().int().min(0).max(600),
    /** The longest a cached principal is trusted without news from Redis; 0 turns the cache off. */
    principalCacheMaxAgeMs: z.number().int().min(0).max(300_000),
    principalCacheMaxEntries: z.number().int().min(1).max(10_000_000),
    /** A console session ends after this long without a request… */
    sessionIdleMinutes: z.number().int().min(1).max(24 * 60),
    /** …and after this long in any case. */
    sessionLifetimeHours: z.number().int().min(1).max(30 * 24),
    /** The console's look, per deployment: the product's name (null: the profile's product), */
    brandName: z.string().min(1).max(60).nullable(),
    /** its logo (a PNG, SVG, JPEG or WebP file Tessera serves itself: the console loads nothing from elsewhere), */
    brandLogoFile: z.string().min(1).nullable(),
    /** and its primary colour. */
    brandColor: z.string().regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour as #rrggbb'),
  })
  .strict();

export type FileConfig = z.infer<typeof fileConfigSchema>;

const limit = z.number().int('must be a whole number').min(1, 'must be at least 1').max(MAX_LIMIT, `must be at most ${MAX_LIMIT}`).nullable().optional();
const spendCap = z.number().int('must be a whole number of credits').min(0, 'must not be negative').max(MAX_LIMIT, `must be at most ${MAX_LIMIT}`).nullable().optional();

const PLAN_NAME = /^[a-z0-9_-]{1,64}$/;

/**
 * config/plans.json: per plan name, every credential's default limits and the organization's
 * aggregate. The first plan is the one new organizations are on, so there must be one.
 */
export const plansSchema = z
  .record(
    z.string(),
    z
      .object({
        rate_limit_per_minute: limit,
        rate_limit_per_day: limit,
        daily_spend_cap: spendCap,
        organization: z.object({ rate_limit_per_minute: limit, rate_limit_per_day: limit }).strict().optional(),
      })
      .strict()
      .transform(
        (plan): PlanLimits => ({
          credential: { rateLimitPerMinute: plan.rate_limit_per_minute ?? null, rateLimitPerDay: plan.rate_limit_per_day ?? null, dailySpendCap: plan.daily_spend_cap ?? null },
          organization: { rateLimitPerMinute: plan.organization?.rate_limit_per_minute ?? null, rateLimitPerDay: plan.organization?.rate_limit_per_day ?? null },
        }),
      ),
  )
  .superRefine((plans, ctx) => {
    const names = Object.keys(plans);
    if (names.length === 0) ctx.addIssue({ code: 'custom', message: 'must name at least one plan (the first is new organizations’ plan)' });
    for (const name of names) {
      if (!PLAN_NAME.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'plan names are 1–64 lower-case letters, digits, _ or -' });
    }
  });

export interface Config extends Omit<FileConfig, 'baseUrl' | 'profile' | 'creditBalances' | 'brandName'> {
  brandName: string;
  /** The product profile named by `profile` (TESSERA_PROFILE), validated. */
  profile: Profile;
  creditBalances: boolean;
  /** The API key format: the profile's, with the parts TESSERA_KEY_* override, validated. */
  apiKeyFormat: KeyFormat;
  env: Environment;
  /** embedded: memory stores in this process; external: MongoDB + Redis. */
  storeMode: 'embedded' | 'external';
  /** The public URL of this instance, and later the OAuth issuer. */
  baseUrl: string;
  /** The OAuth server's private signing keys (JWKS). */
  oauthKeys: { keys: Array<Record<string, unknown>> };
  /** Names of the secret settings that were not given and were generated for this run. */
  generatedSecrets: string[];
  /** Trusted proxies in front of Tessera: trustedProxyHops behind a trusted proxy, else 0. */
  proxyHops: number;
  /** The plans by name (plansFile). */
  plans: Record<string, PlanLimits>;
  /** What applies when neither a credential nor its plan sets a limit. */
  defaultLimits: CredentialLimits;
}
