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

  /** The client, when the credentials are right and it is enabled; else null. */
  async authenticate(credentials: ClientCredentials): Promise<OAuthClient | null> {
    const client = await this.find(credentials.clientId);
    if (!client || client.disabled) return null;
    return clientSecretMatches(client.secretHash, credentials.clientSecret) ? client : null;
  }

  private async find(id: string): Promise<OAuthClient | null> {
    const now = this.clock.now().getTime();
    const cached = this.cache.get(id);
    if (cached && now - cached.at < CACHE_MS) return cached.client;
    const client = await this.clients.findById(id);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(id, { client, at: now });
    return client;
  }
}
