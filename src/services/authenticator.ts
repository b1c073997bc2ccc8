import type { Role } from '../domain/accounts.ts';
import { inspectKey, type KeyFormat } from '../domain/api-key-format.ts';
import { keyState, NO_LIMITS, type ApiKey } from '../domain/api-key.ts';
import type { Principal } from '../domain/principal.ts';
import { intersectScopes, type ScopeCatalog } from '../domain/scopes.ts';
import type { ApiKeyStore, Clock, MembershipStore, OrganizationStore, UserStore } from '../ports.ts';
import type { FailureThrottle } from './failure-throttle.ts';
import { hashKey } from './key-hash.ts';
import type { LastUsedTracker } from './last-used-tracker.ts';

/** Why a bearer is not usable: for tests and logs only — callers all see the same 401. */
export type InactiveReason =
  | 'missing'
  | 'malformed'
  | 'bad-checksum'
  | 'unknown'
  | 'revoked'
  | 'disabled'
  | 'expired'
  | 'user-disabled'
  | 'not-a-member';

export type Resolution =
  | { status: 'active'; principal: Principal; key: ApiKey }
  | { status: 'inactive'; reason: InactiveReason }
  /** The bearer is valid but its organization is disabled. */
  | { status: 'org-disabled'; principal: Principal };

export type AuthOutcome =
  | { kind: 'authenticated'; principal: Principal }
  | { kind: 'unauthorized'; reason: InactiveReason }
  | { kind: 'forbidden'; message: string }
  | { kind: 'throttled'; retryAfterSeconds: number };

/** Longest bearer looked at; anything longer is malformed without further work. */
export const MAX_BEARER_LENGTH = 512;
const PRINTABLE = /^[\x21-\x7e]+$/;

export interface AuthenticatorDeps {
  apiKeys: ApiKeyStore;
  users: UserStore;
  organizations: OrganizationStore;
  memberships: MembershipStore;
  catalog: ScopeCatalog;
  format: KeyFormat;
  clock: Clock;
  throttle: FailureThrottle;
  lastUsed: LastUsedTracker;
  defaultRateLimitPerMinute: number | null;
}

/**
 * Who is this bearer? Resolves an API key to its principal: the key's scopes within what its
 * user's current role allows, in the key's organization. Every unusable case is one answer.
 */
export class Authenticator {
  private readonly deps: AuthenticatorDeps;

  constructor(deps: AuthenticatorDeps) {
    this.deps = deps;
  }

  /** The whole check for a request: throttling of failures per client address, then resolve. */
  async authenticate(bearer: string | null, clientAddress: string): Promise<AuthOutcome> {
    const wait = await this.deps.throttle.blocked(clientAddress);
    if (wait !== null) return { kind: 'throttled', retryAfterSeconds: wait };
    const resolution = bearer === null ? ({ status: 'inactive', reason: 'missing' } as const) : await this.resolve(bearer);
    switch (resolution.status) {
      case 'active':
        this.deps.lastUsed.touch(resolution.key.id);
        return { kind: 'authenticated', principal: resolution.principal };
      case 'org-disabled':
        return { kind: 'forbidden', message: 'This organization is disabled' };
      case 'inactive': {
        const retry = await this.deps.throttle.failed(clientAddress);
        return retry === null ? { kind: 'unauthorized', reason: resolution.reason } : { kind: 'throttled', retryAfterSeconds: retry };
      }
    }
  }

  /** The principal of an API key, or why there is none. Reads the store of record. */
  async resolve(bearer: string): Promise<Resolution> {
    if (bearer.length === 0 || bearer.length > MAX_BEARER_LENGTH || !PRINTABLE.test(bearer)) return inactive('malformed');
    // A key of our shape with a failing checksum is refused before any lookup.
    if (inspectKey(this.deps.format, bearer).kind === 'bad-checksum') return inactive('bad-checksum');
    const key = await this.deps.apiKeys.findByHash(hashKey(bearer));
    if (!key) return inactive('unknown');
    const now = this.deps.clock.now();
    const state = keyState(key, now);
    if (state !== 'usable') return inactive(state);

    const [user, membership, org] = await Promise.all([
      this.deps.users.findById(key.userId),
      this.deps.memberships.find(key.userId, key.orgId),
      this.deps.organizations.findById(key.orgId),
    ]);
    if (!user || user.disabled) return inactive('user-disabled');
    if (!membership || !org) return inactive('not-a-member');
    const principal = this.principalOf(key, membership.role);
    if (org.disabled) return { status: 'org-disabled', principal };
    return { status: 'active', principal, key };
  }

  private principalOf(key: ApiKey, role: Role): Principal {
    const limits = key.limits ?? NO_LIMITS;
    return {
      kind: 'api_key',
      userId: key.userId,
      orgId: key.orgId,
      // A key never does more than its user's current role allows.
      scopes: intersectScopes(key.scopes, this.deps.catalog.allowedFor(role)),
      role,
      keyId: key.id,
      env: key.env,
      rateLimitPerMinute: limits.rateLimitPerMinute ?? this.deps.defaultRateLimitPerMinute,
      issuedAt: key.createdAt,
      expiresAt: key.expiresAt,
    };
  }
}

function inactive(reason: InactiveReason): Resolution {
  return { status: 'inactive', reason };
}
