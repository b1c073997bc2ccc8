import type { ApiKeyStore, Clock, EphemeralStore } from '../ports.ts';

const LOCAL_MEMORY_LIMIT = 50_000;

/**
 * Records when keys are used without a store write per request: each instance remembers when it
 * last wrote a key's lastUsedAt, and a Redis lease (SET NX PX) lets one instance in the whole
 * deployment write it per interval. The write itself is `$max`, so order never matters.
 */
export class LastUsedTracker {
  private readonly apiKeys: ApiKeyStore;
  private readonly ephemeral: EphemeralStore;
  private readonly intervalMs: number;
  private readonly clock: Clock;
  private readonly onError: (error: unknown) => void;
  private readonly lastWritten = new Map<string, number>();

  constructor(apiKeys: ApiKeyStore, ephemeral: EphemeralStore, intervalMs: number, clock: Clock, onError: (error: unknown) => void) {
    this.apiKeys = apiKeys;
    this.ephemeral = ephemeral;
    this.intervalMs = intervalMs;
    this.clock = clock;
    this.onError = onError;
  }

  /** Fire and forget: never delays or fails the request that used the key. */
  touch(keyId: string): void {
    const now = this.clock.now();
    const previous = this.lastWritten.get(keyId);
    if (previous !== undefined && now.getTime() - previous < this.intervalMs) return;
    if (this.lastWritten.size >= LOCAL_MEMORY_LIMIT) this.lastWritten.clear();
    this.lastWritten.set(keyId, now.getTime());
    void this.write(keyId, now).catch(this.onError);
  }

  private async write(keyId: string, at: Date): Promise<void> {
    // Without Redis, this instance's own interval is the coalescing that remains.
    const leased = this.intervalMs === 0 ? true : await this.ephemeral.setIfAbsent(`lastused:${keyId}`, '1', this.intervalMs).catch(() => true);
    if (leased) await this.apiKeys.touchLastUsed(keyId, at);
  }
}
