import { EventEmitter } from 'node:events';
import { systemClock } from '../../domain/clock.ts';
import type { Admission, AdmissionResult, Clock, EphemeralStore } from '../../ports.ts';

interface Entry {
  value: string;
  expiresAt: number | null;
}

/**
 * The in-process equivalent of the Redis store for the embedded mode: one process, so "every
 * instance" is this one. Expiry is checked on read and swept periodically so memory stays bounded.
 */
export class MemoryEphemeralStore implements EphemeralStore {
  readonly shared: boolean = false;
  private readonly entries = new Map<string, Entry>();
  private readonly bus = new EventEmitter();
  private readonly sweeper: NodeJS.Timeout;
  private readonly clock: Clock;
  private closed = false;

  constructor(clock: Clock = systemClock, sweepEveryMs = 60_000) {
    this.clock = clock;
    this.bus.setMaxListeners(0);
    this.sweeper = setInterval(() => this.sweep(), sweepEveryMs);
    this.sweeper.unref();
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error('ephemeral store is closed');
  }

  async get(key: string): Promise<string | null> {
    return this.live(key)?.value ?? null;
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.entries.set(key, { value, expiresAt: ttlMs === undefined ? null : this.clock.now().getTime() + ttlMs });
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (this.live(key)) return false;
    await this.set(key, value, ttlMs);
    return true;
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }

  async readOrLock(key: string, lockKey: string, lockTtlMs: number): Promise<{ value: string | null; locked: boolean }> {
    const value = this.live(key)?.value ?? null;
    if (value !== null) return { value, locked: false };
    return { value, locked: await this.setIfAbsent(lockKey, '1', lockTtlMs) };
  }

  async setAndUnlock(key: string, value: string, ttlMs: number, lockKey: string): Promise<void> {
    await this.set(key, value, ttlMs);
    this.entries.delete(lockKey);
  }

  async increment(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }> {
    const now = this.clock.now().getTime();
    const entry = this.live(key);
    if (!entry) {
      this.entries.set(key, { value: '1', expiresAt: now + windowMs });
      return { count: 1, resetInMs: windowMs };
    }
    const count = Number(entry.value) + 1;
    entry.value = String(count);
    return { count, resetInMs: Math.max(0, (entry.expiresAt ?? now) - now) };
  }

  // No await between the reads and the writes: in one process that makes the decision atomic.
  async admit(admission: Admission): Promise<AdmissionResult> {
    const read = (key: string): number => Number(this.live(key)?.value ?? 0);
    const counts = admission.counters.map((c) => read(c.key));
    const spent = admission.caps.map((c) => read(c.key));
    const spentKey = admission.balance?.spentKey;
    const balanceSpent = spentKey === undefined ? null : this.live(spentKey);
    const result = (verdict: AdmissionResult['verdict'], balance: number | null): AdmissionResult => ({ verdict, counts, spent, balance });
    if (admission.balance && admission.cost > 0 && balanceSpent === undefined) return result({ admitted: false, refusedBy: 'balance-unknown' }, null);
    const unknownCap = admission.cost > 0 ? admission.caps.findIndex((c) => this.live(c.key) === undefined) : -1;
    const left = admission.balance && balanceSpent ? admission.balance.credited - Number(balanceSpent.value) : null;
    if (unknownCap >= 0) return result({ admitted: false, refusedBy: 'cap-unknown', index: unknownCap }, left);
    const counter = admission.counters.findIndex((c, i) => counts[i]! + 1 > c.limit);
    if (counter >= 0) return result({ admitted: false, refusedBy: 'counter', index: counter }, left);
    if (admission.cost > 0) {
      const cap = admission.caps.findIndex((c, i) => spent[i]! + admission.cost > c.cap);
      if (cap >= 0) return result({ admitted: false, refusedBy: 'cap', index: cap }, left);
      if (left !== null && admission.cost > left) return result({ admitted: false, refusedBy: 'balance' }, left);
    }
    admission.counters.forEach((c, i) => this.entries.set(c.key, { value: String((counts[i] = counts[i]! + 1)), expiresAt: c.resetAt }));
    if (admission.cost > 0) {
      admission.caps.forEach((c, i) => this.entries.set(c.key, { value: String((spent[i] = spent[i]! + admission.cost)), expiresAt: c.resetAt }));
      if (balanceSpent) balanceSpent.value = String(Number(balanceSpent.value) + admission.cost);
    }
    return result({ admitted: true }, left === null ? null : left - admission.cost);
  }

  async publish(channel: string, message: string): Promise<void> {
    // Delivered asynchronously, as Redis would, so publishers never depend on subscriber timing.
    setImmediate(() => this.bus.emit(channel, message));
  }

  async subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>> {
    this.bus.on(channel, handler);
    return async () => {
      this.bus.off(channel, handler);
    };
  }

  /** In one process nothing can be missed. */
  subscriptionState(): { healthy: boolean; epoch: number } {
    return { healthy: !this.closed, epoch: 0 };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    this.bus.removeAllListeners();
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt !== null && entry.expiresAt <= this.clock.now().getTime()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private sweep(): void {
    const now = this.clock.now().getTime();
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt !== null && entry.expiresAt <= now) this.entries.delete(key);
    }
  }
}
