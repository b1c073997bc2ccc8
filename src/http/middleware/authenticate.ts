import type { Middleware } from 'koa';
import { ForbiddenError, RateLimitedError, UnauthorizedError } from '../../errors/index.ts';
import type { Authenticator } from '../../services/authentication/authenticator.ts';
import { rateLimitHeaders } from '../../domain/rate-limit-headers.ts';
import type { UsageLimiter } from '../../services/limits/usage-limiter.ts';

/**
 * `Authorization: Bearer <token>` (RFC 6750 §2.1; the scheme is case-insensitive, RFC 9110
 * §11.1). Never a query parameter: tokens in URLs end up in logs and Referer headers.
 */
export function bearerOf(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer +([^ ]+) *$/i.exec(header);
  return match ? match[1]! : null;
}

/**
 * Authenticates the caller of /api/v1: every failure is the same 401 (nobody can tell an unknown
 * key from a revoked one); a valid bearer of a disabled organization is 403; repeated failures
 * from one address are 429. Every request counts against the bearer's limits, as at the product's
 * API (the same limiter and headers as verification): 429 with Retry-After over one.
 */
export function authenticate(authenticator: Authenticator, limiter: UsageLimiter): Middleware {
  return async (ctx, next) => {
    const header = ctx.get('Authorization');
    const bearer = bearerOf(header);
    const outcome = await authenticator.authenticate(bearer, ctx.ip);
    switch (outcome.kind) {
      case 'unauthorized':
        throw new UnauthorizedError();
      case 'throttled':
        throw new RateLimitedError(outcome.retryAfterSeconds);
      case 'forbidden':
        throw new ForbiddenError(outcome.message);
      case 'authenticated':
        break;
    }
    const principal = outcome.principal;
    const limits = await limiter.admit(principal, 0);
    ctx.set(rateLimitHeaders(limits.windows, Math.floor(Date.now() / 1000)));
    if (!limits.admitted) throw new RateLimitedError(limits.retryAfterSeconds ?? 1);
    ctx.state.principal = principal;
    await next();
  };
}

