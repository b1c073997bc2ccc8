/**
 * Tessera's OAuth 2.0 authorization server: oidc-provider, configured for connectors (Zapier,
 * Make) that act for a user within one organization.
 */
import Provider, { errors, type ClientMetadata, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { ScopeCatalog } from '../domain/scopes.ts';
import type { Clock, ClientStore, OAuthModelStore, UserStore } from '../ports.ts';
import { clientSecretMatches } from '../services/oauth-apps/client-service.ts';
import { adapterFactory } from './oidc-adapter.ts';
import { renderErrorPage } from './views/error-page.ts';

export interface ProviderOptions {
  issuer: string;
  jwks: { keys: Array<Record<string, unknown>> };
  cookieKeys: string[];
  accessTokenTtlSeconds: number;
  refreshTokenLifetimeDays: number;
  catalog: ScopeCatalog;
  store: OAuthModelStore;
  /** Clients and users by id: read on every token request, so app.ts passes the shared, event-invalidated reads. */
  clients: Pick<ClientStore, 'findById'>;
  users: Pick<UserStore, 'findById'>;
  clock: Clock;
  revokeGrant: (grantId: string) => Promise<void>;
}

/** The resource that tokens are for when a request names none: Tessera's own API. */
export function apiResource(issuer: string): string {
  return `${issuer}/api`;
}

export const OAUTH_ROUTES = {
  authorization: '/oauth/auth',
  token: '/oauth/token',
  revocation: '/oauth/revoke',
  introspection: '/oauth/introspect',
  jwks: '/oauth/jwks',
  userinfo: '/oauth/me',
  end_session: '/oauth/session/end',
  pushed_authorization_request: '/oauth/par',
} as const;

/** The JWS algorithm of the first signing key: ID tokens are signed with it by default. */
function signingAlg(key: Record<string, unknown> | undefined): string {
  if (typeof key?.alg === 'string') return key.alg;
  if (key?.kty === 'RSA') return 'RS256';
  if (key?.kty === 'OKP') return 'EdDSA';
  return 'ES256';
}

export function createProvider(options: ProviderOptions): Provider {
  const resource = apiResource(options.issuer);
  const lifetime = options.refreshTokenLifetimeDays * 86_400;
  const now = () => Math.floor(options.clock.now().getTime() / 1000);

  const configuration: Configuration = {
    adapter: adapterFactory({
      store: options.store,
      clients: options.clients,
      clock: options.clock,
      revokeGrant: options.revokeGrant,
      // rotateRefreshToken (below) is true: every use of a refresh token consumes it.
      consumedOnEveryUse: new Set(['RefreshToken']),
    }),
    jwks: options.jwks as Configuration['jwks'],
    cookies: { keys: options.cookieKeys },
    routes: OAUTH_ROUTES,
    // OIDC scopes only: Tessera's scopes (keys:read, leads:write…) are resource scopes of its API.
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    claims: { openid: ['sub'], email: ['email'], profile: ['name'] },
    // RFC 7636 with S256 only, for every client, confidential ones included (OAuth 2.1 §4.1.1).
    pkce: { required: () => true },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: signingAlg(options.jwks.keys[0]) as NonNullable<ClientMetadata['id_token_signed_response_alg']>,
    },
    responseTypes: ['code'],
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    // Every authorization asks for consent: the user picks the organization each time.
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId;
      return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
    },
    findAccount: async (_ctx, sub) => {
      const user = await options.users.findById(sub);
      if (!user || user.disabled) return undefined;
      return { accountId: user.id, claims: async () => ({ sub: user.id, email: user.email, name: user.name ?? undefined }) };
    },
    // Rotate on every use; the chain ends `refreshTokenLifetimeDays` after its first token. The
    // adapter relies on it (consumedOnEveryUse, above).
    rotateRefreshToken: true,
    ttl: {
      AccessToken: options.accessTokenTtlSeconds,
      AuthorizationCode: 60,
      Interaction: 3_600,
      Session: 14 * 86_400,
      Grant: lifetime,
      IdToken: 3_600,
      RefreshToken: (_ctx, token) => {
        const first = (token as { iiat?: number; iat?: number }).iiat ?? (token as { iat?: number }).iat ?? now();
        return Math.max(1, first + lifetime - now());
      },
    },
    features: {
      devInteractions: { enabled: false },
      // A connector revokes its own tokens only; API keys reported by any client are handled
      // before the provider (see key-revocation.ts).
      revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      // The shared introspection endpoint (API keys and tokens alike) is Tessera's own.
      introspection: { enabled: false },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        // A client gets no more than the scopes it is registered for.
        getResourceServerInfo: async (_ctx, indicator, client) => {
          if (indicator !== resource) throw new errors.InvalidTarget();
          const registered = new Set((await options.clients.findById(client.clientId))?.scopes ?? []);
          const scope = options.catalog.all.filter((s) => registered.has(s)).join(' ');
          return { scope, audience: resource, accessTokenFormat: 'opaque', accessTokenTTL: options.accessTokenTtlSeconds };
        },
      },
    },
    // RFC 8414 §2 metadata the provider cannot know: Tessera serves introspection itself.
    discovery: {
      introspection_endpoint: `${options.issuer}${OAUTH_ROUTES.introspection}`,
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    },
    renderError: async (ctx, out) => {
      renderErrorPage(ctx as unknown as KoaContextWithOIDC, out.error ?? 'server_error', out.error_description ?? 'Something went wrong');
    },
  };

  const provider = new Provider(options.issuer, configuration);
  // Client secrets are stored as SHA-256 hashes: compare the hash of what the client presents.
  provider.Client.prototype.compareClientSecret = function compareClientSecret(this: { clientSecret?: string }, actual: string) {
    return Promise.resolve(clientSecretMatches(this.clientSecret ?? '', actual));
  };
  return provider;
}
