import type { Clock, EphemeralStore } from '../../ports.ts';

const LOCAL_MEMORY_LIMIT = 50_000;

/** Records a use: `lastUsedAt = max(lastUsedAt, at)` in the store of record, and where it came from. */
export type TouchLastUsed = (id: string, at: Date, from: string | null) => Promise<void>;

/**
 * Records when keys (and connected apps) are used without a store write per request: each instance remembers when it
 * last wrote a key's lastUsedAt, and a Redis lease (SET NX PX) lets one instance in the whole
 * deployment write it per interval. The write itself is `$max`, so order never matters.
 */
export class LastUsedTracker {
  private readonly touchStored: TouchLastUsed;
  private readonly leasePrefix: string;
  private readonly ephemeral: EphemeralStore;
  private readonly intervalMs: number;
  private readonly clock: Clock;
  private readonly onError: (error: unknown) => void;
  private readonly lastWritten = new Map<string, number>();

  constructor(touch: TouchLastUsed, leasePrefix: string, ephemeral: EphemeralStore, intervalMs: number, clock: Clock, onError: (error: unknown) => void) {
    this.touchStored = touch;
    this.leasePrefix = leasePrefix;
    this.ephemeral = ephemeral;
    this.intervalMs = intervalMs;
    this.clock = clock;
    this.onError = onError;
  }

  /** Fire and forget: never delays or fails the request that used the key. */
  touch(id: string, from: string | null = null): void {
    const now = this.clock.now();
    const previous = this.lastWritten.get(id);
    if (previous !== undefined && now.getTime() - previous < this.intervalMs) return;
    if (this.lastWritten.size >= LOCAL_MEMORY_LIMIT) this.lastWritten.clear();
    this.lastWritten.set(id, now.getTime());
    void this.write(id, now, from).catch(this.onError);
  }

  private async write(id: string, at: Date, from: string | null): Promise<void> {
    // Without Redis, this instance's own interval is the coalescing that remains.
    const leased = this.intervalMs === 0 ? true : await this.ephemeral.setIfAbsent(`lastused:${this.leasePrefix}:${id}`, '1', this.intervalMs).catch(() => true);
    if (leased) await this.touchStored(id, at, from);
  }
}
