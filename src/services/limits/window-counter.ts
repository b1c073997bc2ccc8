import type { Admission, AdmissionResult, EphemeralStore } from '../../ports.ts';

export interface WindowCount {
  count: number;
  resetInMs: number;
}

/**
 * Fixed-window counters, and holds (a key marked for a while), shared by every instance through
 * the ephemeral store (Redis). When that store cannot be reached, they continue in this process
 * (`fallback`), so throttling degrades to per-instance limits instead of vanishing.
 *
 * Totals loaded from the store of record (`seed`: a balance's spent credits) are different: they
 * must stay whole across an outage, or a balance is spent twice. One loaded into the fallback
 * while the primary is away, and added to there by admissions, is handed back once the primary
 * answers again: what was added in the fallback is added to the primary's total (which missed it
 * while it kept its data) — or, should the primary have lost the total, nothing is, as the next use
 * loads it again from the store of record — and the fallback forgets it (a later outage loads it
 * afresh, rather than resume from a total that missed everything spent in between).
 */
export class WindowCounter {
  private readonly primary: EphemeralStore;
  private readonly fallback: EphemeralStore;
  private readonly onFallback: (error: unknown) => void;
  /** Totals loaded into the fallback, and the value each was loaded with. */
  private readonly loadedInFallback = new Map<string, number>();
  /** Credits added to totals in the fallback, not yet added to the primary's (null: unknown, reload it). */
  private readonly toHandBack = new Map<string, number | null>();
  private handingBack: Promise<void> | null = null;

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
    return this.shared(async (store) => {
      const set = await store.setIfAbsent(key, String(value), ttlMs);
      if (set && store === this.fallback) this.loadedInFallback.set(key, value);
      return set;
    });
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
      // Nothing is counted in the primary before the totals of an outage are handed back to it.
      if (this.loadedInFallback.size > 0 || this.toHandBack.size > 0) await this.handBack();
      return await op(this.primary);
    } catch (error) {
      this.onFallback(error);
      return op(this.fallback);
    }
  }

  /** Once the primary answers: the fallback's totals go back to it (one hand-back at a time). */
  private handBack(): Promise<void> {
    this.handingBack ??= this.handBackNow().finally(() => (this.handingBack = null));
    return this.handingBack;
  }

  private async handBackNow(): Promise<void> {
    await this.primary.ping();
    // Taken out of the fallback at once: the reads and deletions run without an await between
    // them (the fallback is this process's memory), so that nothing added meanwhile is lost; a
    // total used in the fallback again later is loaded and handed back afresh.
    const taken = [...this.loadedInFallback].map(([key, loaded]) => {
      const value = this.fallback.get(key);
      const deleted = this.fallback.delete(key);
      return { key, loaded, value, deleted };
    });
    this.loadedInFallback.clear();
    for (const { key, loaded, value, deleted } of taken) {
      await deleted;
      const now = await value;
      const added = now === null ? null : Number(now) - loaded;
      const before = this.toHandBack.get(key);
      this.toHandBack.set(key, added === null || before === null ? null : added + (before ?? 0));
    }
    for (const [key, added] of this.toHandBack) {
      if (added === null) {
        // What the fallback added is unknown: the primary's total is dropped, to be loaded again.
        await this.primary.delete(key);
      } else if (added > 0) {
        // Added to the total only if the primary has it (an admission against a balance without
        // bound): a lost total is loaded again from the store of record, which has it all.
        await this.primary.admit({ counters: [], caps: [], cost: added, balance: { spentKey: key, credited: Number.MAX_SAFE_INTEGER } });
      }
      this.toHandBack.delete(key);
    }
  }
}
