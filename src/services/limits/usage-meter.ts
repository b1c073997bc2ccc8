import { utcDay } from '../../domain/limits.ts';
import type { Clock, MeteredCredential, MeteringStore, UsageDelta } from '../../ports.ts';

/**
 * Requests and credits per credential per UTC day, added up in memory and written to the store
 * of record in batches (a write per credential and day per flush, never one per request). What
 * a flush could not write is kept for the next; stop() writes what is left, so that nothing counted
 * is lost on shutdown.
 */
export class UsageMeter {
  private pending = new Map<string, UsageDelta>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private readonly metering: MeteringStore;
  private readonly clock: Clock;
  private readonly onError: (error: unknown) => void;

  constructor(metering: MeteringStore, clock: Clock, onError: (error: unknown) => void = () => undefined) {
    this.metering = metering;
    this.clock = clock;
    this.onError = onError;
  }

  /** Flushes every `everyMs` until stopped. */
  start(everyMs: number): void {
    this.timer ??= setInterval(() => void this.flush(), everyMs);
    this.timer.unref();
  }

  record(credential: MeteredCredential, orgId: string, cost: number): void {
    const day = utcDay(this.clock.now().getTime());
    const key = `${credential.kind}:${credential.id}:${day}`;
    const delta = this.pending.get(key);
    if (delta) {
      delta.requests++;
      delta.credits += cost;
    } else {
      this.pending.set(key, { credential, orgId, day, requests: 1, credits: cost });
    }
  }

  /** Credits this instance counted for an organization and has not written yet. */
  pendingCredits(orgId: string): number {
    let credits = 0;
    for (const delta of this.pending.values()) if (delta.orgId === orgId) credits += delta.credits;
    for (const delta of this.inFlight) if (delta.orgId === orgId) credits += delta.credits;
    return credits;
  }

  /** A credential's usage of a day not yet written by this instance (for reads of the series). */
  pendingFor(credential: MeteredCredential, day: string): { requests: number; credits: number } {
    const key = `${credential.kind}:${credential.id}:${day}`;
    const own = this.pending.get(key);
    const flying = this.inFlight.find((d) => d.credential.kind === credential.kind && d.credential.id === credential.id && d.day === day);
    return { requests: (own?.requests ?? 0) + (flying?.requests ?? 0), credits: (own?.credits ?? 0) + (flying?.credits ?? 0) };
  }

  /** Writes what is pending; one flush at a time. */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => (this.flushing = null));
    return this.flushing;
  }

  /** Stops the timer and writes what is left. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flushing;
    await this.flush();
  }

  private inFlight: UsageDelta[] = [];

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    this.inFlight = [...this.pending.values()];
    this.pending = new Map();
    try {
      const written = await Promise.allSettled(this.inFlight.map((delta) => this.metering.add(delta)));
      // What was not written is kept for the next flush, added to what was counted meanwhile.
      written.forEach((outcome, i) => {
        if (outcome.status === 'fulfilled') return;
        const delta = this.inFlight[i]!;
        const key = `${delta.credential.kind}:${delta.credential.id}:${delta.day}`;
        const now = this.pending.get(key);
        if (now) {
          now.requests += delta.requests;
          now.credits += delta.credits;
        } else {
          this.pending.set(key, delta);
        }
      });
      const failed = written.find((outcome) => outcome.status === 'rejected');
      if (failed) this.onError(failed.reason);
    } finally {
      this.inFlight = [];
    }
  }
}
