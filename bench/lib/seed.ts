/**
 * Seeds a fresh Tessera database for the benchmark, through Tessera's own services (as an
 * operator or the consent page would): one organization, one owner, a resource server client
 * (the caller of /oauth/introspect and /v1/verify), a connector client, API keys, and OAuth
 * access tokens stored exactly as oidc-provider stores them (record id = the opaque 43-character
 * token), each with the connected app (grant) its consent recorded. Verification gets its own
 * keys and tokens, with request limits set on each credential: the introspection cases keep
 * theirs without any, as they were measured.
 */
import { randomBytes } from 'node:crypto';
import { createTessera } from '../../src/app.ts';
import { loadConfig } from '../../src/config/index.ts';
import type { CredentialLimits } from '../../src/domain/limits.ts';
import { createLogger } from '../../src/logger.ts';
import { operatorActor } from '../../src/services/accounts/operator-actor.ts';

export interface TesseraSeed {
  orgId: string;
  userId: string;
  resourceServer: { id: string; secret: string };
  connectorId: string;
  apiKeys: string[];
  accessTokens: string[];
  unknownTokens: string[];
  /** API keys with LIMITS_NEVER_REACHED, for verification. */
  limitedKeys: string[];
  /** Access tokens whose connected apps have LIMITS_NEVER_REACHED. */
  limitedAccessTokens: string[];
  /** API keys with LIMITS_OF_ONE: refused once each has made one request (bench/run.ts spends it). */
  spentKeys: string[];
}

export const BENCH_SCOPES = ['leads:read', 'leads:write'];

/**
 * Two windows, a minute and a UTC day, that no run reaches: the load is spread over the tokens
 * (100), so even at 100,000 req/s a token makes 60,000 requests a minute, and a run loads a case
 * for a few minutes at most. Both windows are counted on every request.
 */
export const LIMITS_NEVER_REACHED: Partial<CredentialLimits> = { rateLimitPerMinute: 1_000_000, rateLimitPerDay: 100_000_000 };

/**
 * The same two windows at one request each: once spent, every request is refused (by the day's
 * window when a new minute has begun) until 00:00 UTC.
 */
export const LIMITS_OF_ONE: Partial<CredentialLimits> = { rateLimitPerMinute: 1, rateLimitPerDay: 1 };

/** An opaque token id as oidc-provider makes them: 32 random bytes, base64url (43 characters). */
export function opaqueToken(): string {
  return randomBytes(32).toString('base64url');
}

export async function seedTessera(env: Record<string, string>, count: number, logFile: string): Promise<TesseraSeed> {
  const config = loadConfig({ ...env, LOG_LEVEL: 'warn', TESSERA_LOG_FILE: logFile });
  const tessera = await createTessera(config, { logger: createLogger({ level: config.logLevel, file: config.logFile }) });
  try {
    const { accounts, apiKeys, clients, connectedApps, catalog } = tessera.services;
    const org = await accounts.createOrganization({ name: 'Bench Org' });
    const user = await accounts.createUser({ email: `bench-${randomBytes(4).toString('hex')}@example.com`, name: 'Bench Owner' });
    await accounts.setMembership(user.id, org.id, 'owner');
    const actor = await operatorActor(tessera.stores, catalog, user.id, org.id);

    const resourceServer = await clients.create({ name: 'Leads API', type: 'resource_server' });
    const connector = await clients.create({ name: 'Bench Connector', redirectUris: ['https://connector.example/callback'], scopes: BENCH_SCOPES });

    const keysWith = async (name: string, limits?: Partial<CredentialLimits>): Promise<string[]> => {
      const keys: string[] = [];
      for (let i = 0; i < count; i++) {
        keys.push((await apiKeys.create(actor, { name: `${name} ${i}`, scopes: BENCH_SCOPES, ...(limits ? { limits } : {}) })).secret);
      }
      return keys;
    };

    const now = Math.floor(Date.now() / 1000);
    // Long enough to outlive any run: an expiring token would turn into a fast inactive answer.
    const exp = now + 6 * 3600;
    const accessToken = async (limits?: Partial<CredentialLimits>): Promise<string> => {
      const grantId = opaqueToken();
      await connectedApps.recordConsent({ grantId, userId: user.id, orgId: org.id, clientId: connector.client.id, scopes: BENCH_SCOPES }, actor);
      if (limits) await connectedApps.setLimits(actor, grantId, limits);
      const token = opaqueToken();
      await tessera.stores.oauth.upsert(
        'AccessToken',
        token,
        {
          accountId: user.id,
          clientId: connector.client.id,
          grantId,
          scope: BENCH_SCOPES.join(' '),
          aud: `${config.baseUrl}/api`,
          gty: 'authorization_code',
          iat: now,
          exp,
          kind: 'AccessToken',
          jti: token,
        },
        new Date(exp * 1000),
      );
      return token;
    };
    const accessTokensWith = async (limits?: Partial<CredentialLimits>): Promise<string[]> => {
      const tokens: string[] = [];
      for (let i = 0; i < count; i++) tokens.push(await accessToken(limits));
      return tokens;
    };

    return {
      orgId: org.id,
      userId: user.id,
      resourceServer: { id: resourceServer.client.id, secret: resourceServer.secret },
      connectorId: connector.client.id,
      apiKeys: await keysWith('bench'),
      accessTokens: await accessTokensWith(),
      unknownTokens: Array.from({ length: count }, opaqueToken),
      limitedKeys: await keysWith('bench limited', LIMITS_NEVER_REACHED),
      limitedAccessTokens: await accessTokensWith(LIMITS_NEVER_REACHED),
      spentKeys: await keysWith('bench spent', LIMITS_OF_ONE),
    };
  } finally {
    await tessera.close();
  }
}
