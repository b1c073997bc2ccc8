import type { Middleware } from 'koa';
import { ForbiddenError, RateLimitedError, UnauthorizedError } from '../../errors/index.ts';
import type { Authenticator } from '../../services/authentication/authenticator.ts';
import type { RateLimiter } from '../../services/limits/rate-limiter.ts';

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
 * from one address are 429. Per-bearer rate limits answer 429 with the X-RateLimit-* headers.
 */
export function authenticate(authenticator: Authenticator, rateLimiter: RateLimiter): Middleware {
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
    const limit = await rateLimiter.check(principal);
    if (limit) {
      ctx.set('X-RateLimit-Limit', String(limit.limit));
      ctx.set('X-RateLimit-Remaining', String(limit.remaining));
      ctx.set('X-RateLimit-Reset', String(limit.resetAtEpochSeconds));
      if (limit.exceeded) throw new RateLimitedError(limit.retryAfterSeconds);
    }
    ctx.state.principal = principal;
    await next();
  };
}

