import { andThen, type Awaitable } from '../../domain/awaitable.ts';
import type { OAuthClient } from '../../domain/oauth.ts';
import type { VerifyCode } from '../../domain/verification.ts';
import { failureOf, type BearerKind, type FailureReason } from '../../domain/profile.ts';
import { resolutionOrg, type InactiveReason } from '../../domain/resolution.ts';
import { mostConstrained, type RateLimitWindow } from '../../domain/rate-limit-headers.ts';
import type { LimitOutcome, UsageLimiter } from '../limits/usage-limiter.ts';
import type { Authenticator } from './authenticator.ts';
import type { ActiveIntrospection, IntrospectionService } from './introspection-service.ts';


export interface VerifyInput {
  token: string;
  /** Credits this request spends. */
  cost: number;
  /** Scopes the request needs: all of them. */
  requiredScopes: readonly string[];
}

export interface VerifyAnswer {
  valid: boolean;
  code: VerifyCode;
  /** Why not, finer than `code`: the failure reason the profile has a status and words for. */
  reason?: FailureReason;
  /** What the bearer was found to be, where known (a profile may answer the kinds differently). */
  bearer_kind?: BearerKind;
  /** The principal, as introspection shows it: for every code once the bearer is known to be usable. */
  principal?: ActiveIntrospection;
  /** The most constrained request window (after this request), and every window as a policy. */
  ratelimit?: { limit: number; remaining: number; reset: number; policies: RateLimitWindow[] };
  spend?: { cost: number; cap: number | null; spent: number; remaining: number | null; reset: number; balance: number | null };
  /** Seconds until a refused request may succeed (RATE_LIMITED; USAGE_EXCEEDED by the daily cap). */
  retry_after?: number;
  /** For INSUFFICIENT_SCOPE: the scopes the bearer lacks. */
  missing_scopes?: string[];
}

const BY_REASON: Record<InactiveReason, VerifyCode> = {
  missing: 'NOT_FOUND',
  malformed: 'NOT_FOUND',
  'bad-checksum': 'NOT_FOUND',
  unknown: 'NOT_FOUND',
  revoked: 'REVOKED',
  'grant-revoked': 'REVOKED',
  expired: 'EXPIRED',
  disabled: 'DISABLED',
  'user-disabled': 'DISABLED',
  'not-a-member': 'DISABLED',
};

/**
 * POST /v1/verify for resource servers: who the bearer is, whether it may make this request —
 * its scopes, its request limits, its spend — counted in the same call, and why not as a code
 * (introspection's `{"active":false}` cannot say). An unusable bearer, or another organization's
 * for a resource server bound to one, is told apart only as far as its code: NOT_FOUND, EXPIRED,
 * REVOKED, DISABLED. Only a request that is let through is counted.
 */
export class VerificationService {
  private readonly authenticator: Authenticator;
  private readonly introspection: IntrospectionService;
  private readonly limiter: UsageLimiter;

  constructor(authenticator: Authenticator, introspection: IntrospectionService, limiter: UsageLimiter) {
    this.authenticator = authenticator;
    this.introspection = introspection;
    this.limiter = limiter;
  }

  verify(caller: OAuthClient, input: VerifyInput): Awaitable<VerifyAnswer> {
    return andThen(this.authenticator.lookup(input.token, `via ${caller.name}`), (resolution): Awaitable<VerifyAnswer> => {
      // A resource server bound to an organization learns nothing of other organizations' bearers.
      if (caller.orgId !== null && caller.orgId !== resolutionOrg(resolution)) return { valid: false, code: 'NOT_FOUND', reason: 'unknown' };
      if (resolution.status === 'inactive') {
        return { valid: false, code: BY_REASON[resolution.reason], reason: failureOf(resolution.reason), ...(resolution.kind ? { bearer_kind: resolution.kind } : {}) };
      }
      const p = resolution.principal;
      if (resolution.status === 'forbidden') return { valid: false, code: 'DISABLED', reason: resolution.reason, bearer_kind: p.kind };
      const principal = this.introspection.describe(p);
      const missing = input.requiredScopes.filter((s) => !p.scopes.includes(s));
      if (missing.length > 0) return { valid: false, code: 'INSUFFICIENT_SCOPE', reason: 'insufficient_scope', bearer_kind: p.kind, principal, missing_scopes: missing };
      return this.limiter.admit(p, input.cost).then((limits) => answer(principal, p.kind, input.cost, limits));
    });
  }
}

function answer(principal: ActiveIntrospection, kind: BearerKind, cost: number, limits: LimitOutcome): VerifyAnswer {
  const most = mostConstrained(limits.windows);
  const code: VerifyCode = limits.admitted ? 'VALID' : limits.refusal === 'rate' ? 'RATE_LIMITED' : 'USAGE_EXCEEDED';
  // The daily cap says when it resets; the credit balance cannot.
  const reason: FailureReason | null = limits.admitted ? null : limits.refusal === 'rate' ? 'rate_limited' : limits.retryAfterSeconds !== null ? 'usage_exceeded' : 'balance_exhausted';
  return {
    valid: limits.admitted,
    code,
    ...(reason ? { reason } : {}),
    bearer_kind: kind,
    principal,
    ...(most ? { ratelimit: { limit: most.limit, remaining: most.remaining, reset: most.reset, policies: limits.windows } } : {}),
    ...(limits.spend ? { spend: { cost, ...limits.spend } } : {}),
    ...(limits.retryAfterSeconds !== null ? { retry_after: limits.retryAfterSeconds } : {}),
  };
}
