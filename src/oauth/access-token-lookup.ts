import type { AccessTokenInfo, AccessTokenLookup, Clock, OAuthModelStore } from '../ports.ts';

/** oidc-provider's opaque tokens: 43 base64url characters (256 bits). */
const OPAQUE_TOKEN = /^[A-Za-z0-9_-]{43}$/;

/**
 * Reads access tokens from oidc-provider's records (the opaque token is the record id), so that
 * the API authenticates them without going through the provider's HTTP endpoints.
 */
export class OidcAccessTokenLookup implements AccessTokenLookup {
  private readonly store: OAuthModelStore;
  private readonly clock: Clock;

  constructor(store: OAuthModelStore, clock: Clock) {
    this.store = store;
    this.clock = clock;
  }

  async find(token: string): Promise<AccessTokenInfo | null> {
    if (!OPAQUE_TOKEN.test(token)) return null;
    // Access tokens are never consumed: the record alone, one read.
    const record = await this.store.peek('AccessToken', token);
    if (!record) return null;
    const p = record.payload as { accountId?: unknown; clientId?: unknown; grantId?: unknown; scope?: unknown; iat?: unknown; exp?: unknown };
    if (typeof p.accountId !== 'string' || typeof p.clientId !== 'string' || typeof p.grantId !== 'string' || typeof p.exp !== 'number') return null;
    const expiresAt = new Date(p.exp * 1000);
    if (expiresAt.getTime() <= this.clock.now().getTime()) return null;
    return {
      accountId: p.accountId,
      clientId: p.clientId,
      grantId: p.grantId,
      scopes: typeof p.scope === 'string' ? p.scope.split(' ').filter((s) => s.length > 0) : [],
      issuedAt: new Date((typeof p.iat === 'number' ? p.iat : p.exp) * 1000),
      expiresAt,
    };
  }
}
