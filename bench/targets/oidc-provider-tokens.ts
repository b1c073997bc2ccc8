/**
 * Case (r0): a plain oidc-provider 9 answering refresh_token grants at its own token endpoint
 * (POST /token), on its default in-memory adapter — the reference for Tessera's (r1)(r2).
 *
 * Configured as src/oauth/provider.ts configures Tessera's provider wherever a refresh touches
 * it: the same scopes and claims, PKCE required, a confidential connector (client_secret_basic,
 * authorization_code + refresh_token), refresh tokens rotated on every use with the same
 * lifetimes (access tokens 3,600 s, a chain 60 days from its first token), resource indicators
 * with the API as default and granted resource, and opaque access tokens for it. What Tessera adds
 * around its provider (the store adapter, hashed client secrets, refresh replay, client throttle)
 * is what (r1)(r2) measure against this.
 *
 * Command `mint-chains` ({ count }): `count` new grants, each with its first refresh token, made
 * with the provider's own models (Grant, RefreshToken) — this provider has no sign-in or consent
 * pages (devInteractions is off, as in Tessera). The refresh token gets exactly the fields the
 * code exchange gives one (helpers/grant_common.js issueTokens), the same as Tessera's first
 * refresh token of a chain: accountId, authTime, grantId, gty, resource, rotations 0, scope,
 * sessionUid.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import Provider, { errors, type Configuration } from 'oidc-provider';
import { failTarget, serveTarget } from './ipc.ts';

const ISSUER = 'http://127.0.0.1';
const RESOURCE = `${ISSUER}/api`;
const API_SCOPE = 'leads:read leads:write';
/** What a connector asks for, as in the Tessera cases: the API's scopes and a refresh token, no openid. */
const SCOPE = `offline_access ${API_SCOPE}`;
const ACCESS_TOKEN_TTL = 3_600;
const LIFETIME = 60 * 86_400;
const ACCOUNT_ID = 'u_bench_tokens';

try {
  const connectorSecret = randomBytes(32).toString('base64url');
  const rsSecret = randomBytes(32).toString('base64url');
  const signingKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  const now = (): number => Math.floor(Date.now() / 1000);
  const configuration: Configuration = {
    clients: [
      {
        client_id: 'bench_connector',
        client_secret: connectorSecret,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: ['https://connector.example/callback'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      { client_id: 'bench_leads_api', client_secret: rsSecret, grant_types: [], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic' },
    ],
    jwks: { keys: [{ ...signingKey, use: 'sig', alg: 'ES256', kid: 'bench' }] as NonNullable<Configuration['jwks']>['keys'] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    claims: { openid: ['sub'], email: ['email'], profile: ['name'] },
    pkce: { required: () => true },
    clientDefaults: { grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic', id_token_signed_response_alg: 'ES256' },
    responseTypes: ['code'],
    // As Tessera's findAccount, minus its user store: one known, enabled user.
    findAccount: async (_ctx, sub) => (sub === ACCOUNT_ID ? { accountId: sub, claims: async () => ({ sub }) } : undefined),
    rotateRefreshToken: true,
    ttl: {
      AccessToken: ACCESS_TOKEN_TTL,
      AuthorizationCode: 60,
      Grant: LIFETIME,
      RefreshToken: (_ctx, token) => {
        const first = (token as { iiat?: number; iat?: number }).iiat ?? (token as { iat?: number }).iat ?? now();
        return Math.max(1, first + LIFETIME - now());
      },
    },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      // Only for the benchmark's check that a new access token is active (not on the measured path).
      introspection: { enabled: true, allowedPolicy: async () => true },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: async (_ctx, indicator) => {
          if (indicator !== RESOURCE) throw new errors.InvalidTarget();
          return { scope: API_SCOPE, audience: RESOURCE, accessTokenFormat: 'opaque', accessTokenTTL: ACCESS_TOKEN_TTL };
        },
      },
    },
  };
  const provider = new Provider(ISSUER, configuration);
  const connector = await provider.Client.find('bench_connector');
  if (!connector) throw new Error('the connector client is not registered');

  const mintChains = async (payload: unknown): Promise<string[]> => {
    const { count } = payload as { count: number };
    const tokens: string[] = [];
    for (let i = 0; i < count; i++) {
      const grant = new provider.Grant({ accountId: ACCOUNT_ID, clientId: connector.clientId });
      grant.addOIDCScope('offline_access');
      grant.addResourceScope(RESOURCE, API_SCOPE);
      const grantId = await grant.save();
      const token = new provider.RefreshToken({
        accountId: ACCOUNT_ID,
        authTime: now(),
        client: connector,
        grantId,
        gty: 'authorization_code',
        resource: RESOURCE,
        rotations: 0,
        scope: SCOPE,
        sessionUid: randomBytes(32).toString('base64url').slice(0, 43),
      });
      tokens.push(await token.save());
    }
    return tokens;
  };

  const server = createServer(provider.callback());
  // A clean exit on SIGTERM (the parent's stop), so that a CPU profile (--cpu-prof) is written.
  process.once('SIGTERM', () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
  await serveTarget(
    server,
    undefined,
    undefined,
    { connector: { id: 'bench_connector', secret: connectorSecret }, resourceServer: { id: 'bench_leads_api', secret: rsSecret }, tokenPath: '/token', introspectionPath: '/token/introspection' },
    { 'mint-chains': mintChains },
  );
} catch (error) {
  failTarget(error);
}
