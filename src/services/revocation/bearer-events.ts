import type { EphemeralStore } from '../../ports.ts';

export const BEARER_EVENTS_CHANNEL = 'bearer-events';

/** A bearer whose answer changed (revoked, disabled, scopes or expiry edited): drop it from caches. */
export type BearerEvent =
  | {
      kind: 'api_key';
      /** SHA-256 of the bearer: caches are keyed by it, never by the bearer itself. */
      hash: string;
      id: string;
      /** Revoked for good: caches may answer "inactive" from memory from now on. */
      final?: boolean;
    }
  /** Every token of this grant (a connected app) changed; `final`: the grant was revoked. */
  | { kind: 'grant'; id: string; final?: boolean }
  /** Every token of this OAuth client changed (it was disabled or enabled). */
  | { kind: 'client'; id: string }
  /** Every bearer of this user changed (disabled, role changed, left an organization). */
  | { kind: 'user'; id: string }
  /** Every bearer of this organization changed (disabled or enabled). */
  | { kind: 'organization'; id: string };

/**
 * Tells every instance, through Redis pub/sub, that a bearer changed. The store of record is
 * written first and stays the authority: a lost message can only delay a cache's refresh,
 * never revive a revoked bearer, because nothing is accepted without the store's answer or a
 * cache entry bounded in time.
 */
export class BearerEvents {
  private readonly ephemeral: EphemeralStore;
  private readonly onError: (error: unknown) => void;
  /** This instance's own subscribers, told synchronously before anything goes to Redis. */
  private readonly local = new Set<(event: BearerEvent) => void>();

  constructor(ephemeral: EphemeralStore, onError: (error: unknown) => void) {
    this.ephemeral = ephemeral;
    this.onError = onError;
  }

  async publish(event: BearerEvent): Promise<void> {
    // This instance must not answer from a stale cache even for the moment its own message takes
    // to come back from Redis.
    for (const handler of this.local) handler(event);
    try {
      await this.ephemeral.publish(BEARER_EVENTS_CHANNEL, JSON.stringify(event));
    } catch (error) {
      this.onError(error);
    }
  }

  async subscribe(handler: (event: BearerEvent) => void): Promise<() => Promise<void>> {
    this.local.add(handler);
    const unsubscribe = await this.ephemeral.subscribe(BEARER_EVENTS_CHANNEL, (message) => {
      try {
        handler(JSON.parse(message) as BearerEvent);
      } catch (error) {
        this.onError(error);
      }
    });
    return async () => {
      this.local.delete(handler);
      await unsubscribe();
    };
  }
}
