/**
 * The kit's short cache of introspection answers, and the bearer events that drop entries from
 * it. Framework-free and clock-free (the caller passes `now`), so that it can be tested directly.
 *
 * Entries are keyed by the hex SHA-256 of the bearer — never the bearer itself — which is also
 * what Tessera puts in its `api_key` events.
 */
import { bearerEventGroup, parseBearerEvent, type BearerEvent } from '../src/domain/bearer-event.ts';
import type { Principal } from './principal.ts';

// The events and their reader are Tessera's own (src/domain/bearer-event.ts): one contract.
export { parseBearerEvent, type BearerEvent };

interface Entry {
  /** null: Tessera answered `{"active":false}` (a negative entry). */
  principal: Principal | null;
  expiresAt: number;
}

/** The groups whose events must drop an entry: its user, its organization, its key, its grant, its OAuth client. */
function groupsOf(principal: Principal | null): string[] {
  if (principal === null) return [];
  const groups = [`user:${principal.sub}`, `organization:${principal.org_id}`];
  if (principal.key_id !== undefined) groups.push(`api_key:${principal.key_id}`);
  if (principal.grant_id !== undefined) groups.push(`grant:${principal.grant_id}`);
  if (principal.client_id !== undefined) groups.push(`client:${principal.client_id}`);
  return groups;
}

export class PrincipalCache {
  private readonly entries = new Map<string, Entry>();
  /** `<kind>:<id>` of each bearer event that concerns an entry → the hashes of those entries. */
  private readonly byGroup = new Map<string, Set<string>>();
  private readonly maxEntries: number;

  constructor(maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
    this.maxEntries = maxEntries;
  }

  /** The cached answer (a principal, or null for a negative entry), or undefined on a miss. */
  get(hash: string, now: number): { principal: Principal | null } | undefined {
    const entry = this.entries.get(hash);
    if (!entry) return undefined;
    if (entry.expiresAt <= now) {
      this.drop(hash);
      return undefined;
    }
    return { principal: entry.principal };
  }

  set(hash: string, principal: Principal | null, expiresAt: number, now: number): void {
    this.drop(hash);
    if (expiresAt <= now) return;
    while (this.entries.size >= this.maxEntries) this.evictOldest();
    this.entries.set(hash, { principal, expiresAt });
    for (const group of groupsOf(principal)) {
      let hashes = this.byGroup.get(group);
      if (!hashes) this.byGroup.set(group, (hashes = new Set()));
      hashes.add(hash);
    }
  }

  /**
   * Drops what an event says changed: an API key by the hash Tessera sends (and by its id, for
   * good measure); every bearer of a grant, a client, a user or an organization by its id.
   * Returns how many entries were dropped.
   */
  invalidate(event: BearerEvent): number {
    const before = this.entries.size;
    if (event.kind === 'api_key') this.drop(event.hash);
    for (const hash of [...(this.byGroup.get(bearerEventGroup(event)) ?? [])]) this.drop(hash);
    return before - this.entries.size;
  }

  clear(): void {
    this.entries.clear();
    this.byGroup.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private drop(hash: string): void {
    const entry = this.entries.get(hash);
    if (!entry) return;
    this.entries.delete(hash);
    for (const group of groupsOf(entry.principal)) {
      const hashes = this.byGroup.get(group);
      hashes?.delete(hash);
      if (hashes?.size === 0) this.byGroup.delete(group);
    }
  }

  /** Maps iterate in insertion order, and set() re-inserts: the first entry is the oldest. */
  private evictOldest(): void {
    const oldest = this.entries.keys().next();
    if (!oldest.done) this.drop(oldest.value);
  }
}
