import { andThen, type Awaitable } from '../domain/awaitable.ts';
import type { OAuthClient } from '../domain/oauth.ts';
import type { ClientStore, Clock } from '../ports.ts';
import { clientSecretMatches } from './client-service.ts';

const CACHE_MS = 5_000;

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

/**
 * Authenticates OAuth clients at Tessera's own endpoints (introspection, revocation of API keys):
 * the SHA-256 of the presented secret against the stored one, in constant time. Client records
 * are kept for a few seconds, so that a resource server introspecting thousands of times a second
 * costs no store round trip per request.
 */
export class ClientAuthenticator {
  private readonly clients: ClientStore;
  private readonly clock: Clock;
  private readonly cache = new Map<string, { client: OAuthClient | null; at: number }>();

  constructor(clients: ClientStore, clock: Clock) {
    this.clients = clients;
    this.clock = clock;
  }

  /** The client, when the credentials are right and it is enabled; else null. At once when cached. */
  authenticate(credentials: ClientCredentials): Awaitable<OAuthClient | null> {
    return andThen(this.find(credentials.clientId), (client) =>
      client && !client.disabled && clientSecretMatches(client.secretHash, credentials.clientSecret) ? client : null,
    );
  }

  private find(id: string): Awaitable<OAuthClient | null> {
    const now = this.clock.now().getTime();
    const cached = this.cache.get(id);
    if (cached && now - cached.at < CACHE_MS) return cached.client;
    return this.clients.findById(id).then((client) => {
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(id, { client, at: now });
      return client;
    });
  }
}
