import { andThen, type Awaitable } from '../../domain/awaitable.ts';
import type { Principal } from '../../domain/principal.ts';
import type { BearerKind } from '../../domain/profile.ts';
import { inactive, type ForbiddenReason, type InactiveReason, type Resolution } from '../../domain/resolution.ts';
import type { LastUsedTracker } from '../keys/last-used-tracker.ts';
import type { FailureThrottle } from '../limits/failure-throttle.ts';

export type AuthOutcome =
  | { kind: 'authenticated'; principal: Principal }
  | { kind: 'unauthorized'; reason: InactiveReason; bearerKind?: BearerKind }
  | { kind: 'forbidden'; reason: ForbiddenReason; bearerKind: BearerKind }
  | { kind: 'throttled'; retryAfterSeconds: number };

export interface AuthenticatorDeps {
  /** Who a bearer is: the principal cache in front of the resolver, or the resolver alone. */
  resolve: (bearer: string) => Awaitable<Resolution>;
  throttle: FailureThrottle;
  keysLastUsed: LastUsedTracker;
  appsLastUsed: LastUsedTracker;
}

/**
 * The check of every request that carries a bearer: who it is (through the cache), a note of the
 * use of a usable bearer, and throttling of an address that keeps failing.
 */
export class Authenticator {
  private readonly deps: AuthenticatorDeps;

  constructor(deps: AuthenticatorDeps) {
    this.deps = deps;
  }

  /**
   * Who the bearer is (at once on a cache hit); records the use of a usable bearer, and `from`
   * where (a client address, or `via` the resource server that asks).
   */
  lookup(bearer: string, from: string | null = null): Awaitable<Resolution> {
    return andThen(this.deps.resolve(bearer), (resolution) => {
      if (resolution.status === 'active') {
        const { principal } = resolution;
        if (principal.kind === 'api_key') this.deps.keysLastUsed.touch(principal.keyId, from);
        else this.deps.appsLastUsed.touch(principal.grantId);
      }
      return resolution;
    });
  }

  /**
   * The whole check for a request: the lookup, then throttling of failures per client address.
   * Only failures are throttled: a usable bearer is answered whatever its address has done, for a
   * connector calls with many users' bearers from a few egress addresses and one user's revoked
   * token must not lock out the others. A blocked address's failures are refused without counting.
   */
  async authenticate(bearer: string | null, clientAddress: string): Promise<AuthOutcome> {
    const resolution: Resolution = bearer === null ? inactive('missing') : await this.lookup(bearer, clientAddress);
    switch (resolution.status) {
      case 'active':
        return { kind: 'authenticated', principal: resolution.principal };
      case 'forbidden':
        return { kind: 'forbidden', reason: resolution.reason, bearerKind: resolution.principal.kind };
      case 'inactive': {
        const retry = this.deps.throttle.blocked(clientAddress) ?? (await this.deps.throttle.failed(clientAddress));
        return retry === null ? { kind: 'unauthorized', reason: resolution.reason, ...(resolution.kind ? { bearerKind: resolution.kind } : {}) } : { kind: 'throttled', retryAfterSeconds: retry };
      }
    }
  }
}
