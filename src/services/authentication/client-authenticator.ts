import { andThen, type Awaitable } from '../../domain/awaitable.ts';
import type { OAuthClient } from '../../domain/oauth.ts';
import type { ClientStore, Clock, EphemeralStore } from '../../ports.ts';
import type { BearerEvents } from '../revocation/bearer-events.ts';
import { clientSecretMatches } from '../oauth-apps/client-service.ts';
import { SharedRecordCache } from '../caching/shared-record-cache.ts';

/** A client record is trusted this long at most, should its change event be lost. */
export const CLIENT_CACHE_MS = 5_000;
/** From this age a use also reads the record again, in the background. */
const REFRESH_AFTER_MS = 4_000;
const MAX_ENTRIES = 10_000;

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

/**
 * Authenticates OAuth clients at Tessera's own endpoints (introspection, revocation of API keys):
 * the SHA-256 of the presented secret against the stored one, in constant time. A resource server
 * introspects thousands of times a second, so client records are kept by a SharedRecordCache of
 * their own: dropped at once by the client's change event (disabled, new secret, new
 * organization), trusted for 5 s at most should that event be lost, not served at all while the
 * event subscription is down, read again in the background before they age out, and read once
 * for any number of concurrent requests — when every request of the moment missed together, the
 * reads queued on the store stalled all of them.
 */
export class ClientAuthenticator {
  private readonly clients: ClientStore;
  private readonly records: SharedRecordCache;

  constructor(clients: ClientStore, ephemeral: EphemeralStore, clock: Clock) {
    this.clients = clients;
    this.records = new SharedRecordCache(ephemeral, clock, { maxAgeMs: CLIENT_CACHE_MS, maxEntries: MAX_ENTRIES, refreshAfterMs: REFRESH_AFTER_MS });
  }

  /** Listens for client changes; until then (and whenever the subscription drops) nothing is kept. */
  start(events: BearerEvents): Promise<() => Promise<void>> {
    return this.records.start(events);
  }

  /** The client, when the credentials are right and it is enabled; else null. At once when cached. */
  authenticate(credentials: ClientCredentials): Awaitable<OAuthClient | null> {
    return andThen(this.find(credentials.clientId), (client) =>
      client && !client.disabled && clientSecretMatches(client.secretHash, credentials.clientSecret) ? client : null,
    );
  }

  /**
   * The client whose credentials were verified earlier (against `secretHash`), if it still has
   * that secret and is enabled: for a caller that presents the very same credentials again (a
   * resource server's keep-alive connection) — no decoding, no hashing. At once when cached.
   */
  confirm(clientId: string, secretHash: string): Awaitable<OAuthClient | null> {
    return andThen(this.find(clientId), (client) => (client && !client.disabled && client.secretHash === secretHash ? client : null));
  }

  private find(id: string): Awaitable<OAuthClient | null> {
    const key = `client:${id}` as const;
    return andThen(this.records.read(key, [key], () => this.clients.findById(id)), (read) => read.value);
  }
}
