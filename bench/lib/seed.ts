/**
 * Seeds a fresh Tessera database for the benchmark, through Tessera's own services (as an
 * operator or the consent page would): one organization, one owner, a resource server client
 * (the caller of /oauth/introspect), a connector client, API keys, and OAuth access tokens stored
 * exactly as oidc-provider stores them (record id = the opaque 43-character token), each with
 * the connected app (grant) its consent recorded.
 */
import { randomBytes } from 'node:crypto';
import { createTessera } from '../../src/app.ts';
import { loadConfig } from '../../src/config/index.ts';
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
}

export const BENCH_SCOPES = ['leads:read', 'leads:write'];

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

    const keys: string[] = [];
    for (let i = 0; i < count; i++) {
      keys.push((await apiKeys.create(actor, { name: `bench ${i}`, scopes: BENCH_SCOPES })).secret);
    }

    const tokens: string[] = [];
    const now = Math.floor(Date.now() / 1000);
    // Long enough to outlive any run: an expiring token would turn into a fast inactive answer.
    const exp = now + 6 * 3600;
    for (let i = 0; i < count; i++) {
      const grantId = opaqueToken();
      await connectedApps.recordConsent({ grantId, userId: user.id, orgId: org.id, clientId: connector.client.id, scopes: BENCH_SCOPES }, actor);
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
      tokens.push(token);
    }

    return {
      orgId: org.id,
      userId: user.id,
      resourceServer: { id: resourceServer.client.id, secret: resourceServer.secret },
      connectorId: connector.client.id,
      apiKeys: keys,
      accessTokens: tokens,
      unknownTokens: Array.from({ length: count }, opaqueToken),
    };
  } finally {
    await tessera.close();
  }
}
