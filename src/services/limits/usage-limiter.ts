import { utcDay, windowAt, windowSeconds, WINDOWS, type WindowName } from '../../domain/limits.ts';
import type { Principal } from '../../domain/principal.ts';
import type { RateLimitWindow } from '../../domain/rate-limit-headers.ts';
import type { Admission, Clock, MeteredCredential, MeteringStore } from '../../ports.ts';
import type { UsageMeter } from './usage-meter.ts';
import type { WindowCounter } from './window-counter.ts';

export interface SpendState {
  /** The credential's daily cap in credits; null: none. */
  cap: number | null;
  /** Credits it spent today, this request's included when admitted. */
  spent: number;
  /** What is left of the cap, or of the balance when that is less; null: unbounded. */
  remaining: number | null;
  /** When today's spending starts afresh (00:00 UTC), in epoch seconds. */
  reset: number;
  /** What the organization's balance has left; null when balances are not kept. */
  balance: number | null;
}

export interface LimitOutcome {
  admitted: boolean;
  /** Why not: a request limit (429), or the spend cap or balance (402). */
  refusal: 'rate' | 'usage' | null;
  /** Every window that counts this bearer's requests, after this one. */
  windows: RateLimitWindow[];
  /** The spending of this request's credits; null when it costs nothing. */
  spend: SpendState | null;
  /** Seconds until a refused request may succeed. */
  retryAfterSeconds: number | null;
}

export interface UsageLimiterOptions {
  /** Whether every cost also draws on the organization's credit balance (402 once it is spent). */
  creditBalances: boolean;
}

/** How long an organization's credited total is trusted (it only grows: a stale one refuses, never overspends). */
const CREDITED_MS = 1_000;
/** How long a loaded spent total is kept in the shared store (it is loaded again when missing). */
const SPENT_TOTAL_MS = 30 * 86_400_000;

/**
 * One request of a bearer against its limits (domain/limits.ts), decided and counted atomically
 * across instances (ports.ts, Admission): the credential's windows and its organization's, its
 * daily spend cap, and the organization's balance. Fixed windows aligned to the minute and the
 * UTC day: every instance agrees on when one starts, and a window's reset is the epoch second
 * products document (`X-RateLimit-Reset`, "until the next UTC day"). An admitted request is
 * metered. With Redis away, counting falls back to this instance (WindowCounter): per-instance
 * limits, never none; a balance's spent total is loaded there from the store of record, and what
 * it gained is handed back to Redis once it answers again, so that no credit is spent twice.
 */
export class UsageLimiter {
  private readonly counter: WindowCounter;
  private readonly metering: MeteringStore;
  private readonly meter: UsageMeter;
  private readonly clock: Clock;
  private readonly options: UsageLimiterOptions;
  private readonly credited = new Map<string, { credits: number; at: number }>();

  constructor(counter: WindowCounter, metering: MeteringStore, meter: UsageMeter, clock: Clock, options: UsageLimiterOptions) {
    this.counter = counter;
    this.metering = metering;
    this.meter = meter;
    this.clock = clock;
    this.options = options;
  }

  async admit(principal: Principal, cost: number): Promise<LimitOutcome> {
    const now = this.clock.now().getTime();
    const credential = credentialOf(principal);
    const { credential: own, organization } = principal.limits;
    const windows: Array<{ name: string; window: WindowName; limit: number; key: string }> = [];
    for (const window of WINDOWS) {
      const limit = window === 'minute' ? own.rateLimitPerMinute : own.rateLimitPerDay;
      if (limit !== null) windows.push({ name: window, window, limit, key: `rl:${credential.kind}:${credential.id}:${window}:${windowAt(window, now).start}` });
      const orgLimit = window === 'minute' ? organization.rateLimitPerMinute : organization.rateLimitPerDay;
      if (orgLimit !== null) windows.push({ name: `org-${window}`, window, limit: orgLimit, key: `rl:org:${principal.orgId}:${window}:${windowAt(window, now).start}` });
    }
    const day = windowAt('day', now);
    const cap = cost > 0 ? own.dailySpendCap : null;
    const admission: Admission = {
      counters: windows.map((w) => ({ key: w.key, limit: w.limit, resetAt: windowAt(w.window, now).end })),
      cost,
      caps: cap === null ? [] : [{ key: `spend:${credential.kind}:${credential.id}:${day.start}`, cap, resetAt: day.end }],
      balance: cost > 0 && this.options.creditBalances ? { spentKey: `balance-spent:${principal.orgId}`, credited: await this.creditedTo(principal.orgId) } : null,
    };
    if (admission.counters.length === 0 && admission.caps.length === 0 && admission.balance === null) {
      this.meter.record(credential, principal.orgId, cost);
      return { admitted: true, refusal: null, windows: [], spend: cost > 0 ? { cap: null, spent: 0, remaining: null, reset: seconds(day.end), balance: null } : null, retryAfterSeconds: null };
    }
    let result = await this.counter.admit(admission);
    // A spent total not in the shared store (first use, or Redis lost it) is loaded from the store
    // of record, with what this instance has not written yet, and the request decided again: the
    // balance's, then the cap's — at most one load each.
    for (let loads = 0; loads < 2 && !result.verdict.admitted; loads++) {
      const refused = result.verdict.refusedBy;
      if (refused === 'balance-unknown') {
        const { spent } = await this.metering.balance(principal.orgId);
        await this.counter.seed(admission.balance!.spentKey, spent + this.meter.pendingCredits(principal.orgId), SPENT_TOTAL_MS);
      } else if (refused === 'cap-unknown') {
        await this.counter.seed(admission.caps[0]!.key, await this.spentToday(credential, now), day.end - now);
      } else {
        break;
      }
      result = await this.counter.admit(admission);
    }
    const { verdict } = result;
    if (verdict.admitted) this.meter.record(credential, principal.orgId, cost);
    const counted: RateLimitWindow[] = windows.map((w, i) => ({
      name: w.name,
      limit: w.limit,
      remaining: Math.max(0, w.limit - result.counts[i]!),
      reset: seconds(windowAt(w.window, now).end),
      window: windowSeconds(w.window),
    }));
    const spend: SpendState | null =
      cost > 0
        ? {
            cap,
            spent: result.spent[0] ?? 0,
            remaining: lesser(cap === null ? null : Math.max(0, cap - (result.spent[0] ?? 0)), result.balance),
            reset: seconds(day.end),
            balance: result.balance,
          }
        : null;
    if (verdict.admitted) return { admitted: true, refusal: null, windows: counted, spend, retryAfterSeconds: null };
    if (verdict.refusedBy === 'counter') {
      const refusing = windows[verdict.index]!;
      return { admitted: false, refusal: 'rate', windows: counted, spend, retryAfterSeconds: Math.max(1, Math.ceil((windowAt(refusing.window, now).end - now) / 1000)) };
    }
    // Over the cap: until the next UTC day. Out of balance: until someone tops it up (no time to say).
    return { admitted: false, refusal: 'usage', windows: counted, spend, retryAfterSeconds: verdict.refusedBy === 'cap' ? Math.max(1, Math.ceil((day.end - now) / 1000)) : null };
  }

  /** A credential's credits of today: written, and not yet written by this instance. */
  private async spentToday(credential: MeteredCredential, now: number): Promise<number> {
    const day = utcDay(now);
    const [written] = await this.metering.series(credential, day, day);
    return (written?.credits ?? 0) + this.meter.pendingFor(credential, day).credits;
  }

  /** The organization's credited total, read at most once a second per instance. */
  private async creditedTo(orgId: string): Promise<number> {
    const now = this.clock.now().getTime();
    const known = this.credited.get(orgId);
    if (known && now - known.at < CREDITED_MS) return known.credits;
    const credited = await this.metering.credited(orgId);
    if (this.credited.size > 10_000) this.credited.clear();
    this.credited.set(orgId, { credits: credited, at: now });
    return credited;
  }

  /** A top-up made here is seen here at once. */
  forgetCredited(orgId: string): void {
    this.credited.delete(orgId);
  }
}

export function credentialOf(principal: Principal): MeteredCredential {
  return principal.kind === 'api_key' ? { kind: 'api_key', id: principal.keyId } : { kind: 'oauth', id: principal.grantId };
}

const seconds = (ms: number): number => Math.ceil(ms / 1000);

function lesser(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}
