/**
 * The store interfaces the services depend on. Each has a memory implementation (the embedded
 * default and the unit tests) and a real one (MongoDB or Redis), and one contract suite in
 * test/contracts/ runs the same cases against both.
 */
import type { Membership, Organization, Role, User } from './domain/accounts.ts';
import type { ApiKey, ApiKeyRecord } from './domain/api-key.ts';
import type { AuditAction, AuditEvent } from './domain/audit.ts';
import type { Credential } from './domain/principal.ts';
import type { ConnectedApp, ConnectedAppRecord, OAuthClient } from './domain/oauth.ts';
import type { CredentialLimits } from './domain/limits.ts';
import type { SessionRecord } from './domain/session.ts';

export type { Clock } from './domain/clock.ts';

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
  /** Every plan some organization is on (checked against the plans at start-up). */
  plansInUse(): Promise<string[]>;
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

export type ApiKeyPatch = Partial<Pick<ApiKey, 'name' | 'scopes' | 'active' | 'disabledByRole' | 'expiresAt' | 'revokedAt' | 'limits' | 'rotatedTo'>>;

/** Preconditions of a conditional update: the write happens only if they hold, atomically. */
export interface ApiKeyConditions {
  /** Only while the key is not revoked. */
  notRevoked?: boolean;
  /** Only while the key has not been rotated (so that one rotation wins a race). */
  notRotated?: boolean;
  /** Only while the key's disabledByRole is this (so that a re-enabling never undoes a newer disabling). */
  disabledByRole?: Role | null;
}

export interface ApiKeyStore {
  /** ConflictError with field `hash` when the key is already stored, `id` when the id is taken. */
  insert(key: ApiKey): Promise<void>;
  findById(id: string): Promise<ApiKey | null>;
  /**
   * The lookup of every authentication: by SHA-256 of the presented key (unique index), without
   * the key's last use — one read.
   */
  findByHash(hash: string): Promise<ApiKeyRecord | null>;
  /** An organization's keys, newest first; only `userId`'s when given; revoked ones left out. */
  listForOrg(orgId: string, filter?: { userId?: string }): Promise<ApiKey[]>;
  /** One atomic conditional update; null when the key does not exist or a condition fails. */
  update(id: string, patch: ApiKeyPatch, conditions?: ApiKeyConditions): Promise<ApiKey | null>;
  /** lastUsedAt = max(lastUsedAt, at): concurrent touches never move it backwards; lastUsedFrom = from. */
  touchLastUsed(id: string, at: Date, from: string | null): Promise<void>;
}

/** A credential that is metered: an API key or a connected app (its grant). */
export interface MeteredCredential {
  kind: 'api_key' | 'oauth';
  id: string;
}

/** Requests made and credits spent by a credential on a UTC day. */
export interface DailyUsage {
  /** YYYY-MM-DD (UTC). */
  day: string;
  requests: number;
  credits: number;
}

/** What a batch of metering adds: to a credential's day, and to its organization's spent credits. */
export interface UsageDelta extends DailyUsage {
  credential: MeteredCredential;
  orgId: string;
}

/** What an organization was credited and has spent, in credits (both only grow). */
export interface Balance {
  credited: number;
  spent: number;
}

/** Usage per credential per day, and organizations' credit balances: the store of record of metering. */
export interface MeteringStore {
  /**
   * Adds a delta to its credential's day: one write, which either happens or not, so that a
   * batch's failed deltas can be written again without counting any twice.
   */
  add(delta: UsageDelta): Promise<void>;
  /** A credential's days from `from` to `to` (YYYY-MM-DD, inclusive) that have usage, oldest first. */
  series(credential: MeteredCredential, from: string, to: string): Promise<DailyUsage[]>;
  /** An organization's balance: what was credited, and the credits of all its usage (zero when none). */
  balance(orgId: string): Promise<Balance>;
  /** What was credited to an organization: one read, for every spending request's check. */
  credited(orgId: string): Promise<number>;
  /** Adds credits to an organization's balance; answers the balance after. */
  credit(orgId: string, credits: number): Promise<Balance>;
}

/** Console sessions, by the SHA-256 of their token. Readers must treat an expired record as absent. */
export interface SessionStore {
  insert(session: SessionRecord): Promise<void>;
  findById(id: string): Promise<SessionRecord | null>;
  /** Sets lastSeenAt (and, when given, the organization); null when there is no such session. */
  update(id: string, patch: Partial<Pick<SessionRecord, 'lastSeenAt' | 'orgId'>>): Promise<SessionRecord | null>;
  /** True when there was one to delete. */
  delete(id: string): Promise<boolean>;
  /** A user's sessions, newest first. */
  listForUser(userId: string): Promise<SessionRecord[]>;
  /** Ends every session of a user; how many there were. */
  deleteForUser(userId: string): Promise<number>;
}

/** A page position in the audit log: strictly older than this event. */
export interface AuditCursor {
  at: Date;
  id: string;
}

/** Which of an organization's events: all that match every field given. */
export interface AuditFilter {
  actorUserId?: string;
  credentialKind?: Credential['kind'];
  action?: AuditAction;
  targetId?: string;
}

export interface AuditStore {
  insert(event: AuditEvent): Promise<void>;
  /** An organization's events (those matching `filter`), newest first (at, then id, descending), at most `limit`. */
  list(orgId: string, page: { limit: number; before?: AuditCursor }, filter?: AuditFilter): Promise<AuditEvent[]>;
}

/**
 * Short-lived shared state: revocation markers, counters for limits, and pub/sub for cache
 * invalidation. Redis in production, an in-process equivalent in the embedded mode.
 */
export interface EphemeralStore {
  /**
   * Whether what it holds leaves this process (Redis: other instances, the network, whoever may
   * read the server): a secret is sealed before it is put there. False for the in-process store,
   * which holds no more than the process itself does.
   */
  readonly shared: boolean;
  ping(): Promise<void>;
  get(key: string): Promise<string | null>;
  /** ttlMs omitted: kept until deleted. */
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** Atomic: true when the key was absent and is now set. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  delete(key: string): Promise<void>;
  /**
   * Atomic, one round trip: reads `key` and, when it is absent, sets `lockKey` if that is absent
   * too (for lockTtlMs). `locked`: this call took the lock — `key` was absent as it did, so the
   * caller is the one to make its value (and then setAndUnlock).
   */
  readOrLock(key: string, lockKey: string, lockTtlMs: number): Promise<{ value: string | null; locked: boolean }>;
  /** Atomic, one round trip: sets `key` (for ttlMs) and deletes `lockKey` — a value made and its lock released. */
  setAndUnlock(key: string, value: string, ttlMs: number, lockKey: string): Promise<void>;
  /**
   * Fixed-window counter: increments `key`, starting a window of `windowMs` on the first hit.
   * Returns the count after the increment and the time left in the window.
   */
  increment(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }>;
  /** Decides and counts one request's admission atomically (see Admission). */
  admit(admission: Admission): Promise<AdmissionResult>;
  publish(channel: string, message: string): Promise<void>;
  /** Resolves once the subscription is active; the returned function unsubscribes. */
  subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>>;
  /**
   * Whether published messages are being received now, and an epoch that changes whenever some
   * may have been missed (the subscriber connection dropped). Caches invalidated by messages
   * trust only entries made in the current epoch, and none while unhealthy.
   */
  subscriptionState(): { healthy: boolean; epoch: number };
  close(): Promise<void>;
}

/**
 * One request's admission, decided and counted atomically: it is admitted only if every request
 * counter stays within its limit and, for a cost, every spend cap too and the balance does not go
 * below zero — and only then is anything counted.
 */
export interface Admission {
  /** Requests counted per fixed window: the key of this window's count, its limit, when it ends (ms since the epoch). */
  counters: Array<{ key: string; limit: number; resetAt: number }>;
  /** Credits this request spends (0: none). */
  cost: number;
  /**
   * Credits spent per UTC day, against caps: each a total loaded from the store of record when
   * the store lacks it (never assumed to be zero), as the balance's.
   */
  caps: Array<{ key: string; cap: number; resetAt: number }>;
  /**
   * The organization's balance, when the cost draws on one: the key of everything it ever spent
   * (a total that only grows) and everything ever credited to it; the cost is admitted while
   * spent + cost ≤ credited.
   */
  balance: { spentKey: string; credited: number } | null;
}

export type AdmissionVerdict =
  | { admitted: true }
  | { admitted: false; refusedBy: 'counter' | 'cap'; index: number }
  | { admitted: false; refusedBy: 'balance' }
  /** The balance's spent total is not in the store (never loaded, or lost with it): load it and ask again. */
  | { admitted: false; refusedBy: 'balance-unknown' }
  /** Likewise a cap's spent credits of the day (asked for only when the request costs something). */
  | { admitted: false; refusedBy: 'cap-unknown'; index: number };

export interface AdmissionResult {
  verdict: AdmissionVerdict;
  /** Each counter's count after the decision (this request included when admitted). */
  counts: number[];
  /** Each cap's credits spent after the decision. */
  spent: number[];
  /** What the balance has left after the decision (credited − spent); null when there is none, or it is unknown. */
  balance: number | null;
}

/** A dependency whose reachability decides readiness. */
export interface HealthCheck {
  readonly name: string;
  /** Resolves when the dependency answers; rejects (promptly) when it does not. */
  ping(): Promise<void>;
}

export type ClientPatch = Partial<Pick<OAuthClient, 'name' | 'secretHash' | 'redirectUris' | 'scopes' | 'disabled' | 'orgId'>>;

export interface ClientStore {
  /** ConflictError with field `id` when the client id is taken. */
  insert(client: OAuthClient): Promise<void>;
  findById(id: string): Promise<OAuthClient | null>;
  update(id: string, patch: ClientPatch): Promise<OAuthClient | null>;
  /** Every client, oldest first. */
  list(): Promise<OAuthClient[]>;
}

export interface ConnectedAppStore {
  /** Inserts, or (same id) replaces scopes and keeps the rest: a grant extended by a new consent. */
  upsert(app: ConnectedApp): Promise<ConnectedApp>;
  findById(id: string): Promise<ConnectedApp | null>;
  /** The lookup of every OAuth authentication: the grant without its last use — one read. */
  findRecord(id: string): Promise<ConnectedAppRecord | null>;
  /** Newest first; revoked ones left out. With `orgId`, only that organization's. */
  listForUser(userId: string, orgId?: string): Promise<ConnectedApp[]>;
  /** Newest first; revoked ones left out. */
  listForOrg(orgId: string): Promise<ConnectedApp[]>;
  /** Atomically marks it revoked; null when unknown or already revoked. */
  revoke(id: string, at: Date): Promise<ConnectedApp | null>;
  /** Sets the live grant's own limits; null when unknown or revoked. */
  setLimits(id: string, limits: CredentialLimits): Promise<ConnectedApp | null>;
  /** lastUsedAt = max(lastUsedAt, at). */
  touchLastUsed(id: string, at: Date): Promise<void>;
}

/**
 * What oidc-provider persists (sessions, interactions, codes, tokens, grants…), one record per
 * model name and id, as its adapter API needs. Payloads are opaque JSON.
 */
export interface OAuthRecord {
  payload: Record<string, unknown>;
  /** When the record stops existing; null: never by itself. */
  expiresAt: Date | null;
  /** When it was consumed (codes, refresh tokens); null while unused. */
  consumedAt: Date | null;
}

export interface OAuthModelStore {
  upsert(model: string, id: string, payload: Record<string, unknown>, expiresAt: Date | null): Promise<void>;
  /** Null when absent or expired (expiry is checked on read, whatever the sweeping). */
  find(model: string, id: string): Promise<OAuthRecord | null>;
  /**
   * As find, without the consumption (kept apart, another read): for readers of records that are
   * never consumed — every authentication by an access token.
   */
  peek(model: string, id: string): Promise<Omit<OAuthRecord, 'consumedAt'> | null>;
  findByUid(model: string, uid: string): Promise<OAuthRecord | null>;
  findByUserCode(model: string, userCode: string): Promise<OAuthRecord | null>;
  /**
   * Marks the record consumed — atomically: of any number of concurrent calls for one id exactly
   * one returns true (an insert into a unique index, which is atomic on MongoDB and FerretDB).
   */
  consume(model: string, id: string, at: Date): Promise<boolean>;
  /**
   * Ends the record. A Grant ends with every record of it, as revokeByGrantId: oidc-provider
   * destroys a grant only as it revokes it (helpers/revoke.js), and nothing of a grant is of use
   * without it.
   */
  destroy(model: string, id: string): Promise<void>;
  /** Deletes every record (of every model) whose payload.grantId is `grantId`. */
  revokeByGrantId(grantId: string): Promise<void>;
}

/** An OAuth access token as the authorization server issued it. */
export interface AccessTokenInfo {
  accountId: string;
  clientId: string;
  grantId: string;
  scopes: string[];
  issuedAt: Date;
  expiresAt: Date;
}

/** Finds an opaque OAuth access token (implemented on oidc-provider's records). */
export interface AccessTokenLookup {
  /** Null when unknown, malformed or expired. */
  find(token: string): Promise<AccessTokenInfo | null>;
}

export interface Stores {
  readonly kind: 'memory' | 'external';
  readonly users: UserStore;
  readonly organizations: OrganizationStore;
  readonly memberships: MembershipStore;
  readonly apiKeys: ApiKeyStore;
  readonly audit: AuditStore;
  readonly clients: ClientStore;
  readonly connectedApps: ConnectedAppStore;
  readonly oauth: OAuthModelStore;
  readonly metering: MeteringStore;
  readonly sessions: SessionStore;
  readonly ephemeral: EphemeralStore;
  readonly health: readonly HealthCheck[];
  close(): Promise<void>;
}
