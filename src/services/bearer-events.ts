import type { EphemeralStore } from '../ports.ts';

export const BEARER_EVENTS_CHANNEL = 'bearer-events';

/** A bearer whose answer changed (revoked, disabled, scopes or expiry edited): drop it from caches. */
export type BearerEvent =
  | {
      kind: 'api_key';
      /** SHA-256 of the bearer: caches are keyed by it, never by the bearer itself. */
      hash: string;
      id: string;
    }
  /** Every token of this grant (a connected app) changed. */
  | { kind: 'grant'; id: string };

/**
 * Tells every instance, through Redis pub/sub, that a bearer changed. The store of record is
 * written first and stays the authority: a lost message can only delay a cache's refresh,
 * never revive a revoked bearer, because nothing is accepted without the store's answer or a
 * cache entry bounded in time.
 */
export class BearerEvents {
  private readonly ephemeral: EphemeralStore;
  private readonly onError: (error: unknown) => void;

  constructor(ephemeral: EphemeralStore, onError: (error: unknown) => void) {
    this.ephemeral = ephemeral;
    this.onError = onError;
  }

  async publish(event: BearerEvent): Promise<void> {
    try {
      await this.ephemeral.publish(BEARER_EVENTS_CHANNEL, JSON.stringify(event));
    } catch (error) {
      this.onError(error);
    }
  }

  subscribe(handler: (event: BearerEvent) => void): Promise<() => Promise<void>> {
    return this.ephemeral.subscribe(BEARER_EVENTS_CHANNEL, (message) => {
      try {
        handler(JSON.parse(message) as BearerEvent);
      } catch (error) {
        this.onError(error);
      }
    });
  }
}
