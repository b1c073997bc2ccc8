import type { EphemeralStore } from '../ports.ts';

export interface WindowCount {
  count: number;
  resetInMs: number;
}

/**
 * Fixed-window counters shared by every instance through the ephemeral store (Redis). When that
 * store cannot be reached, counting continues in this process (`fallback`), so throttling
 * degrades to per-instance limits instead of vanishing.
 */
export class WindowCounter {
  private readonly primary: EphemeralStore;
  private readonly fallback: EphemeralStore;
  private readonly onFallback: (error: unknown) => void;

  constructor(primary: EphemeralStore, fallback: EphemeralStore, onFallback: (error: unknown) => void = () => undefined) {
    this.primary = primary;
    this.fallback = fallback;
    this.onFallback = onFallback;
  }

  async hit(key: string, windowMs: number): Promise<WindowCount> {
    try {
      return await this.primary.increment(key, windowMs);
    } catch (error) {
      this.onFallback(error);
      return this.fallback.increment(key, windowMs);
    }
  }
}
