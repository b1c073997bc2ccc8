import type { Clock, EphemeralStore } from '../ports.ts';
import type { Resolution } from './authenticator.ts';
import type { BearerEvent, BearerEvents } from './bearer-events.ts';
import { hashKey } from './key-hash.ts';

export interface PrincipalCacheOptions {
  /**
   * The safety net: no entry is trusted for longer than this, so a lost invalidation can keep a
   * revoked bearer alive for at most this long. Lost messages are otherwise noticed (the
   * subscriber connection dropped) and the whole cache is discarded.
   */
  maxAgeMs: number;
  maxEntries: number;
}

interface Entry {
  resolution: Resolution;
  expiresAt: number;
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
  private readonly entries = new Map<string, Entry>();
  /** grant id or client id → hashes of their cached tokens, for grant and client events. */
  private readonly byGroup = new Map<string, Set<string>>();
  private readonly resolve: (bearer: string) => Promise<Resolution>;
  private readonly ephemeral: EphemeralStore;
  private readonly clock: Clock;
  private readonly options: PrincipalCacheOptions;

  constructor(resolve: (bearer: string) => Promise<Resolution>, ephemeral: EphemeralStore, clock: Clock, options: PrincipalCacheOptions) {
    this.resolve = resolve;
    this.ephemeral = ephemeral;
    this.clock = clock;
    this.options = options;
  }

  /** Starts listening for invalidations; until then (and if it fails) nothing is cached. */
  async start(events: BearerEvents): Promise<() => Promise<void>> {
    return events.subscribe((event) => this.invalidate(event));
  }

  async lookup(bearer: string): Promise<Resolution> {
    const hash = hashKey(bearer);
    const now = this.clock.now().getTime();
    const { healthy, epoch } = this.ephemeral.subscriptionState();
    const entry = this.entries.get(hash);
    if (entry && healthy && entry.epoch === epoch && entry.expiresAt > now) return entry.resolution;
    if (entry) this.drop(hash);
    const resolution = await this.resolve(bearer);
    if (healthy && this.cacheable(resolution)) this.store(hash, resolution, now, epoch);
    return resolution;
  }

  invalidate(event: BearerEvent): void {
    const { healthy, epoch } = this.ephemeral.subscriptionState();
    const now = this.clock.now().getTime();
    if (event.kind === 'api_key') {
      this.drop(event.hash);
      // A revocation is final: answer it from memory, without another store round trip.
      if (event.final && healthy) this.store(event.hash, { status: 'inactive', reason: 'revoked' }, now, epoch);
      return;
    }
    for (const hash of [...(this.byGroup.get(`${event.kind}:${event.id}`) ?? [])]) {
      this.drop(hash);
      if (event.kind === 'grant' && event.final && healthy) this.store(hash, { status: 'inactive', reason: 'grant-revoked' }, now, epoch);
    }
  }

  clear(): void {
    this.entries.clear();
    this.byGroup.clear();
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

  private store(hash: string, resolution: Resolution, now: number, epoch: number): void {
    let expiresAt = now + this.options.maxAgeMs;
    if (resolution.status !== 'inactive' && resolution.principal.expiresAt) {
      // Never outlive the bearer itself.
      expiresAt = Math.min(expiresAt, resolution.principal.expiresAt.getTime());
    }
    if (expiresAt <= now) return;
    if (this.entries.size >= this.options.maxEntries) this.evictOldest();
    this.entries.set(hash, { resolution, expiresAt, epoch });
    for (const group of groupsOf(resolution)) {
      let hashes = this.byGroup.get(group);
      if (!hashes) this.byGroup.set(group, (hashes = new Set()));
      hashes.add(hash);
    }
  }

  private drop(hash: string): void {
    const entry = this.entries.get(hash);
    if (!entry) return;
    this.entries.delete(hash);
    for (const group of groupsOf(entry.resolution)) {
      const hashes = this.byGroup.get(group);
      hashes?.delete(hash);
      if (hashes?.size === 0) this.byGroup.delete(group);
    }
  }

  /** Maps iterate in insertion order: the first entry is the oldest. */
  private evictOldest(): void {
    const oldest = this.entries.keys().next();
    if (!oldest.done) this.drop(oldest.value);
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
