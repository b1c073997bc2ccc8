/**
 * The store interfaces the services depend on. Each has a memory implementation (the embedded
 * default and the unit tests) and a real one (MongoDB or Redis), and one contract suite in
 * test/contracts/ runs the same cases against both.
 */
import type { Membership, Organization, Role, User } from './domain/accounts.ts';

/** Time, injectable so that expiry can be tested with a frozen clock. */
export interface Clock {
  now(): Date;
}

export type UserPatch = Partial<Pick<User, 'email' | 'name' | 'passwordHash' | 'disabled'>>;
export type OrganizationPatch = Partial<Pick<Organization, 'name' | 'plan' | 'disabled'>>;

export interface UserStore {
  /** Fails with ConflictError when the id or the (case-insensitive) email is taken. */
  insert(user: User): Promise<void>;
  findById(id: string): Promise<User | null>;
  /** Case-insensitive. */
  findByEmail(email: string): Promise<User | null>;
  /** Returns the updated user, or null when there is none. ConflictError on a taken email. */
  update(id: string, patch: UserPatch): Promise<User | null>;
}

export interface OrganizationStore {
  /** Fails with ConflictError when the id is taken. */
  insert(org: Organization): Promise<void>;
  findById(id: string): Promise<Organization | null>;
  update(id: string, patch: OrganizationPatch): Promise<Organization | null>;
}

export interface MembershipStore {
  /** One membership per (user, org): inserts, or changes the role of the existing one. */
  upsert(membership: Membership): Promise<Membership>;
  find(userId: string, orgId: string): Promise<Membership | null>;
  listForUser(userId: string): Promise<Membership[]>;
  listForOrg(orgId: string): Promise<Membership[]>;
  remove(userId: string, orgId: string): Promise<boolean>;
}

export type { Role };

/**
 * Short-lived shared state: revocation markers, counters for limits, and pub/sub for cache
 * invalidation. Redis in production, an in-process equivalent in the embedded mode.
 */
export interface EphemeralStore {
  ping(): Promise<void>;
  get(key: string): Promise<string | null>;
  /** ttlMs omitted: kept until deleted. */
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** Atomic: true when the key was absent and is now set. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  delete(key: string): Promise<void>;
  /**
   * Fixed-window counter: increments `key`, starting a window of `windowMs` on the first hit.
   * Returns the count after the increment and the time left in the window.
   */
  increment(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }>;
  publish(channel: string, message: string): Promise<void>;
  /** Resolves once the subscription is active; the returned function unsubscribes. */
  subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** A dependency whose reachability decides readiness. */
export interface HealthCheck {
  readonly name: string;
  /** Resolves when the dependency answers; rejects (promptly) when it does not. */
  ping(): Promise<void>;
}

export interface Stores {
  readonly kind: 'memory' | 'external';
  readonly users: UserStore;
  readonly organizations: OrganizationStore;
  readonly memberships: MembershipStore;
  readonly ephemeral: EphemeralStore;
  readonly health: readonly HealthCheck[];
  close(): Promise<void>;
}
