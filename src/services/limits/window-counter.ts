import type { Admission, AdmissionResult, EphemeralStore } from '../../ports.ts';

export interface WindowCount {
  count: number;
  resetInMs: number;
}

/**
 * Fixed-window counters, and holds (a key marked for a while), shared by every instance through
 * the ephemeral store (Redis). When that store cannot be reached, they continue in this process
 * (`fallback`), so throttling degrades to per-instance limits instead of vanishing.
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

  hit(key: string, windowMs: number): Promise<WindowCount> {
    return this.shared((store) => store.increment(key, windowMs));
  }

  /** Decides and counts one request's admission (ports.ts, Admission). */
  admit(admission: Admission): Promise<AdmissionResult> {
    return this.shared((store) => store.admit(admission));
  }

  /** Sets `key` to `value` unless it has one (a total loaded from the store of record). */
  seed(key: string, value: number, ttlMs: number): Promise<boolean> {
    return this.shared((store) => store.setIfAbsent(key, String(value), ttlMs));
  }

  /** Ends `key`'s window now. */
  reset(key: string): Promise<void> {
    return this.shared((store) => store.delete(key));
  }

  /** Holds `key` until `untilMs` (ms since the epoch), for `ms` from now. */
  hold(key: string, untilMs: number, ms: number): Promise<void> {
    return this.shared((store) => store.set(key, String(untilMs), ms));
  }

  /** When `key`'s hold ends (ms since the epoch), or null when it is not held. */
  async heldUntil(key: string): Promise<number | null> {
    const value = await this.shared((store) => store.get(key));
    return value === null ? null : Number(value);
  }

  private async shared<T>(op: (store: EphemeralStore) => Promise<T>): Promise<T> {
    try {
      return await op(this.primary);
    } catch (error) {
      this.onFallback(error);
      return op(this.fallback);
    }
  }
}
