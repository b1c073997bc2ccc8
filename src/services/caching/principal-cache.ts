import type { Awaitable } from '../../domain/awaitable.ts';
import type { Clock, EphemeralStore } from '../../ports.ts';
import { inactive, resolutionOrg, type Resolution } from '../../domain/resolution.ts';
import { bearerEventGroup, type BearerEvent } from '../../domain/bearer-event.ts';
import type { BearerEvents } from '../revocation/bearer-events.ts';
import { GroupedMap } from './grouped-map.ts';
import { hashKey } from '../../domain/key-hash.ts';

export interface PrincipalCacheOptions {
  /**
   * The safety net: no entry is trusted for longer than this, so a lost invalidation can keep a
   * revoked bearer alive for at most this long. Lost messages are otherwise noticed (the
   * subscriber connection dropped) and the whole cache is discarded.
   */
  maxAgeMs: number;
  maxEntries: number;
  /** Uniform in [0, 1): where in its refresh window each entry falls (tests fix it). */
  random?: () => number;
}

/**
 * From which share of its life a hit also refreshes an entry: late, for few store reads (70–90 %
 * of it), and at a random point, so that bearers cached together (after a deploy, or a burst of
 * new keys) are not all read again in the same instant, cycle after cycle — a herd that stalled
 * every answer behind it. A bearer's first entry is refreshed anywhere in 10–90 % of its life:
 * one early read that scatters a herd in its first cycle.
 */
export const REFRESH_WINDOW = { first: [0.1, 0.9], next: [0.7, 0.9] } as const;

interface Entry {
  resolution: Resolution;
  expiresAt: number;
  /** From then on a hit also refreshes the entry in the background. */
  refreshAt: number;
  epoch: number;
}

/**
 * Per-instance cache of resolved bearers, keyed by the SHA-256 of the bearer — never the bearer.
 * A hit costs no MongoDB round trip. Entries are dropped when Redis says the bearer changed
 * (revoked, disabled, edited, grant revoked), when their age reaches `maxAgeMs`, when the bearer
 * itself expires, and all at once whenever the subscription may have missed a message. While the
 * subscription is down nothing is served from the cache: every lookup reads the store of record.
 */
export class PrincipalCache {
  /** By SHA-256 of the bearer, filed under the groups of events that must drop the entry. */
  private readonly entries = new GroupedMap<Entry>();
  private readonly resolve: (bearer: string) => Promise<Resolution>;
  private readonly ephemeral: EphemeralStore;
  private readonly clock: Clock;
  private readonly options: PrincipalCacheOptions;
  private readonly inFlight = new Map<string, Promise<Resolution>>();
  /** When each hash was last invalidated, so that a lookup begun before cannot re-cache stale data. */
  private readonly invalidatedAt = new Map<string, number>();
  /** Bumped by clear() and by group invalidations: lookups begun before must not store. */
  private generation = 0;

  constructor(resolve: (bearer: string) => Promise<Resolution>, ephemeral: EphemeralStore, clock: Clock, options: PrincipalCacheOptions) {
    this.resolve = resolve;
    this.ephemeral = ephemeral;
    this.clock = clock;
    this.options = options;
  }

  /** Starts listening for invalidations; until then (and if it fails) nothing is cached. */
  async start(events: BearerEvents): Promise<() => Promise<void>> {
    return events.subscribe((event) => (event === null ? this.clear() : this.invalidate(event)));
  }

  /** At once on a hit (no promise: this is the hottest path); a promise on a miss. */
  lookup(bearer: string): Awaitable<Resolution> {
    const hash = hashKey(bearer);
    const now = this.clock.now().getTime();
    const { healthy, epoch } = this.ephemeral.subscriptionState();
    const entry = this.entries.get(hash);
    if (entry && healthy && entry.epoch === epoch && entry.expiresAt > now) {
      // Refresh-ahead: a bearer in use is resolved again in the background late in its entry's
      // life (70–90 %), so it never expires under load — while no entry is ever served past its
      // bound.
      if (now >= entry.refreshAt) void this.fetch(bearer, hash, 'next').catch(() => undefined);
      return entry.resolution;
    }
    if (entry) this.entries.delete(hash);
    return this.fetch(bearer, hash, 'first');
  }

  /** One resolution per bearer at a time: concurrent misses wait for the same store round trip. */
  private fetch(bearer: string, hash: string, refresh: keyof typeof REFRESH_WINDOW): Promise<Resolution> {
    const running = this.inFlight.get(hash);
    if (running) return running;
    const generation = this.generation;
    const { healthy, epoch } = this.ephemeral.subscriptionState();
    const started = this.clock.now().getTime();
    const work = this.resolve(bearer)
      .then((resolution) => {
        // Trusted from when its oldest record was read (shared records may predate this lookup).
        const since = resolution.status !== 'inactive' && resolution.readAt !== undefined ? Math.min(started, resolution.readAt) : started;
        // An invalidation that arrived meanwhile wins over what was read before it.
        if (healthy && generation === this.generation && !this.invalidatedSince(hash, since) && this.cacheable(resolution)) {
          this.store(hash, resolution, since, epoch, refresh);
        }
        return resolution;
      })
      .finally(() => this.inFlight.delete(hash));
    this.inFlight.set(hash, work);
    return work;
  }

  private invalidatedSince(hash: string, started: number): boolean {
    const at = this.invalidatedAt.get(hash);
    return at !== undefined && at >= started;
  }

  invalidate(event: BearerEvent): void {
    const { healthy, epoch } = this.ephemeral.subscriptionState();
    const now = this.clock.now().getTime();
    if (event.kind === 'api_key') {
      this.markInvalidated(event.hash, now);
      const previous = this.entries.get(event.hash);
      this.entries.delete(event.hash);
      // A revocation is final: answer it from memory, without another store round trip.
      if (event.final && healthy) this.store(event.hash, inactive('revoked', previous && resolutionOrg(previous.resolution), 'api_key'), now, epoch);
      return;
    }
    // A group's bearers may be being resolved right now without being cached yet.
    this.generation++;
    for (const hash of this.entries.keysIn(bearerEventGroup(event))) {
      const previous = this.entries.get(hash);
      this.entries.delete(hash);
      if (event.kind === 'grant' && event.final && healthy) this.store(hash, inactive('grant-revoked', previous && resolutionOrg(previous.resolution), 'oauth'), now, epoch);
    }
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Bad shapes cost nothing to recompute. Unknown bearers are cached too (random probes are
   * bounded by maxEntries), and so are final answers (revoked keys and grants).
   */
  private cacheable(resolution: Resolution): boolean {
    return resolution.status !== 'inactive' || ['unknown', 'revoked', 'grant-revoked'].includes(resolution.reason);
  }

  private store(hash: string, resolution: Resolution, now: number, epoch: number, refresh: keyof typeof REFRESH_WINDOW = 'next'): void {
    let expiresAt = now + this.options.maxAgeMs;
    if (resolution.status !== 'inactive' && resolution.principal.expiresAt) {
      // Never outlive the bearer itself.
      expiresAt = Math.min(expiresAt, resolution.principal.expiresAt.getTime());
    }
    if (expiresAt <= now) return;
    if (this.entries.size >= this.options.maxEntries) this.evictOldest();
    const [from, to] = REFRESH_WINDOW[refresh];
    const refreshAfter = from + (to - from) * (this.options.random ?? Math.random)();
    // Set again, the entry is filed last: the map stays oldest first.
    this.entries.set(hash, { resolution, expiresAt, refreshAt: now + this.options.maxAgeMs * refreshAfter, epoch }, groupsOf(resolution));
  }

  private markInvalidated(hash: string, now: number): void {
    if (this.invalidatedAt.size >= this.options.maxEntries) this.invalidatedAt.clear();
    this.invalidatedAt.set(hash, now);
  }

  private evictOldest(): void {
    const oldest = this.entries.oldestKey();
    if (oldest !== undefined) this.entries.delete(oldest);
  }
}

/** The events, besides its own, that must drop a cached bearer: its user's and organization's, and an OAuth token's grant and client. */
function groupsOf(resolution: Resolution): string[] {
  if (resolution.status === 'inactive') return [];
  const p = resolution.principal;
  const groups = [`user:${p.userId}`, `organization:${p.orgId}`];
  if (p.kind === 'oauth') groups.push(`grant:${p.grantId}`, `client:${p.clientId}`);
  return groups;
}
