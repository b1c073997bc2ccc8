/**
 * The kit's short cache of introspection answers, and the bearer events that drop entries from
 * it. Framework-free and clock-free (the caller passes `now`), so that it can be tested directly.
 *
 * Entries are keyed by the hex SHA-256 of the bearer — never the bearer itself — which is also
 * what Tessera puts in its `api_key` events.
 */
import type { Principal } from './principal.ts';

/**
 * What Tessera publishes on `<prefix>bearer-events` (src/services/bearer-events.ts): a bearer whose
 * answer changed (revoked, disabled, scopes or expiry edited, grant revoked, client disabled).
 */
export type BearerEvent =
  | { kind: 'api_key'; hash: string; id: string }
  | { kind: 'grant'; id: string }
  | { kind: 'client'; id: string };

/**
 * Parses one message of the channel. Anything that does not have one of the three shapes is null:
 * the caller cannot tell which bearer changed and must drop everything.
 */
export function parseBearerEvent(message: string): BearerEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const event = value as Record<string, unknown>;
  switch (event.kind) {
    case 'api_key':
      return typeof event.hash === 'string' && typeof event.id === 'string' ? { kind: 'api_key', hash: event.hash.toLowerCase(), id: event.id } : null;
    case 'grant':
    case 'client':
      return typeof event.id === 'string' ? { kind: event.kind, id: event.id } : null;
    default:
      return null;
  }
}

interface Entry {
  /** null: Tessera answered `{"active":false}` (a negative entry). */
  principal: Principal | null;
  expiresAt: number;
}

/** The groups whose events must drop an entry: its key, its grant, its OAuth client. */
function groupsOf(principal: Principal | null): string[] {
  if (principal === null) return [];
  const groups: string[] = [];
  if (principal.key_id !== undefined) groups.push(`api_key:${principal.key_id}`);
  if (principal.grant_id !== undefined) groups.push(`grant:${principal.grant_id}`);
  if (principal.client_id !== undefined) groups.push(`client:${principal.client_id}`);
  return groups;
}

export class PrincipalCache {
  private readonly entries = new Map<string, Entry>();
  /** `grant:<id>`, `client:<id>`, `api_key:<id>` → hashes of the entries that belong to it. */
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
   * good measure), every token of a grant by grant_id, every token of a client by client_id.
   * Returns how many entries were dropped.
   */
  invalidate(event: BearerEvent): number {
    const before = this.entries.size;
    if (event.kind === 'api_key') this.drop(event.hash);
    for (const hash of [...(this.byGroup.get(`${event.kind}:${event.id}`) ?? [])]) this.drop(hash);
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
