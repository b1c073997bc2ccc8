import { BEARER_EVENTS_CHANNEL, parseBearerEvent, serializeBearerEvent, type BearerEvent } from '../../domain/bearer-event.ts';
import type { EphemeralStore } from '../../ports.ts';

export type { BearerEvent };

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
  private readonly local = new Set<(event: BearerEvent | null) => void>();

  constructor(ephemeral: EphemeralStore, onError: (error: unknown) => void) {
    this.ephemeral = ephemeral;
    this.onError = onError;
  }

  async publish(event: BearerEvent): Promise<void> {
    // This instance must not answer from a stale cache even for the moment its own message takes
    // to come back from Redis.
    for (const handler of this.local) handler(event);
    try {
      await this.ephemeral.publish(BEARER_EVENTS_CHANNEL, serializeBearerEvent(event));
    } catch (error) {
      this.onError(error);
    }
  }

  /**
   * `handler` receives every event of any instance; and null for a message it cannot read (of
   * another version of the contract, say), after which nothing cached can be trusted.
   */
  async subscribe(handler: (event: BearerEvent | null) => void): Promise<() => Promise<void>> {
    this.local.add(handler);
    const unsubscribe = await this.ephemeral.subscribe(BEARER_EVENTS_CHANNEL, (message) => {
      const event = parseBearerEvent(message);
      if (event === null) this.onError(new Error('unreadable bearer event: every cache dropped'));
      handler(event);
    });
    return async () => {
      this.local.delete(handler);
      await unsubscribe();
    };
  }
}
