import { andThen, type Awaitable } from '../domain/awaitable.ts';
import type { OAuthClient } from '../domain/oauth.ts';
import type { ClientStore, Clock, EphemeralStore } from '../ports.ts';
import type { BearerEvents } from './bearer-events.ts';
import { clientSecretMatches } from './client-service.ts';

/** A client record is trusted this long at most, should its change event be lost. */
export const CLIENT_CACHE_MS = 5_000;
/** From this age a use also reads the record again, in the background. */
const REFRESH_AFTER_MS = 4_000;
const MAX_ENTRIES = 10_000;

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

interface Entry {
  client: OAuthClient | null;
  at: number;
  epoch: number;
}

/**
 * Authenticates OAuth clients at Tessera's own endpoints (introspection, revocation of API keys):
 * the SHA-256 of the presented secret against the stored one, in constant time. A resource server
 * introspects thousands of times a second, so its record is kept in memory the way the principal
 * cache keeps bearers: dropped at once by the client's change event (disabled, new secret, new
 * organization), trusted for 5 s at most should that event be lost, not served at all while the
 * event subscription is down, read again in the background before it ages out, and read once for
 * any number of concurrent requests — when every request of the moment missed together, the
 * reads queued on the store stalled all of them.
 */
export class ClientAuthenticator {
  private readonly clients: ClientStore;
  private readonly ephemeral: EphemeralStore;
  private readonly clock: Clock;
  private readonly cache = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<OAuthClient | null>>();
  /** Bumped by every change event: reads begun before it must not be kept. */
  private generation = 0;

  constructor(clients: ClientStore, ephemeral: EphemeralStore, clock: Clock) {
    this.clients = clients;
    this.ephemeral = ephemeral;
    this.clock = clock;
  }

  /** Listens for client changes; until then (and whenever the subscription drops) nothing is kept. */
  start(events: BearerEvents): Promise<() => Promise<void>> {
    return events.subscribe((event) => {
      if (event.kind !== 'client') return;
      this.generation++;
      this.cache.delete(event.id);
    });
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
    const now = this.clock.now().getTime();
    const { healthy, epoch } = this.ephemeral.subscriptionState();
    const entry = this.cache.get(id);
    if (entry && healthy && entry.epoch === epoch && now - entry.at < CLIENT_CACHE_MS) {
      if (now - entry.at >= REFRESH_AFTER_MS) void this.load(id).catch(() => undefined);
      return entry.client;
    }
    return this.load(id);
  }

  private load(id: string): Promise<OAuthClient | null> {
    const running = this.inFlight.get(id);
    if (running) return running;
    const generation = this.generation;
    const { healthy, epoch } = this.ephemeral.subscriptionState();
    const at = this.clock.now().getTime();
    const work = this.clients
      .findById(id)
      .then((client) => {
        if (healthy && generation === this.generation) {
          if (this.cache.size >= MAX_ENTRIES) this.cache.clear();
          this.cache.set(id, { client, at, epoch });
        }
        return client;
      })
      .finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, work);
    return work;
  }
}
