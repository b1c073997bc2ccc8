import type { Middleware } from 'koa';
import { failureOf } from '../../domain/profile.ts';
import { BearerRefusedError } from '../../errors/index.ts';
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
 * Authenticates the caller of /api/v1, refusing as the profile says for each reason and bearer
 * kind (by default every unusable bearer is the same 401: nobody can tell an unknown key from a
 * revoked one; a valid bearer of a disabled organization or client is 403); repeated failures
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
        throw new BearerRefusedError(failureOf(outcome.reason), outcome.bearerKind ? { bearerKind: outcome.bearerKind } : {});
      case 'throttled':
        throw new BearerRefusedError('rate_limited', { retryAfterSeconds: outcome.retryAfterSeconds });
      case 'forbidden':
        throw new BearerRefusedError(outcome.reason, { bearerKind: outcome.bearerKind });
      case 'authenticated':
        break;
    }
    const principal = outcome.principal;
    const limits = await limiter.admit(principal, 0);
    ctx.set(rateLimitHeaders(limits.windows, Math.floor(Date.now() / 1000)));
    if (!limits.admitted) throw new BearerRefusedError('rate_limited', { bearerKind: principal.kind, retryAfterSeconds: limits.retryAfterSeconds ?? 1 });
    ctx.state.principal = principal;
    await next();
  };
}

