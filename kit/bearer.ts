/**
 * What every adapter (Koa, node:http / Express) decides for a request, independent of the
 * framework: the bearer of the Authorization header, its principal, the scopes it lacks, its
 * limits when a verifier counts them, and the refusals with Tessera's error body —
 * `{"error":{"code","message"}}`:
 *
 * | why | status |
 * |---|---|
 * | no bearer; unknown, malformed, expired or revoked (NOT_FOUND, EXPIRED, REVOKED) | 401 UNAUTHORIZED, `WWW-Authenticate: Bearer` |
 * | key, user, client or organization disabled (DISABLED) | 403 FORBIDDEN |
 * | a required scope missing (INSUFFICIENT_SCOPE) | 403 FORBIDDEN naming it |
 * | a request window full (RATE_LIMITED) | 429 RATE_LIMITED, `Retry-After` |
 * | the daily spend cap or the credit balance reached (USAGE_EXCEEDED) | 402 USAGE_EXCEEDED, `Retry-After` until 00:00 UTC for the cap |
 * | Tessera cannot tell | 503 UNAVAILABLE, `Retry-After` — never a request let through |
 *
 * A verifier's answers carry the bearer's request windows: the rate-limit headers
 * (src/domain/rate-limit-headers.ts) go on the response, let through or refused.
 */
import { rateLimitHeaders } from '../src/domain/rate-limit-headers.ts';
import { KitUnavailableError, type Introspector } from './introspection-client.ts';
import type { Principal } from './principal.ts';
import { checkCost, type Verification, type Verifier } from './verify-client.ts';

/** Tessera's own wording, for both bearer kinds. */
export const UNAUTHORIZED_MESSAGE = 'Invalid or missing API key';
/** Bearers longer than this are refused without asking Tessera. */
export const MAX_BEARER_LENGTH = 4096;

export type KitErrorCode = 'UNAUTHORIZED' | 'FORBIDDEN' | 'RATE_LIMITED' | 'USAGE_EXCEEDED' | 'UNAVAILABLE';

export interface ErrorBody {
  error: { code: KitErrorCode; message: string };
}

export interface Refusal {
  status: 401 | 402 | 403 | 429 | 503;
  headers: Record<string, string>;
  body: ErrorBody;
}

/** `headers`: what to put on the response that follows (the rate-limit headers of a verifier's answer). */
export type Decision = { ok: true; principal: Principal; headers: Record<string, string> } | { ok: false; refusal: Refusal };

/** What the adapters need of an introspector. */
export type BearerIntrospector = Pick<Introspector, 'introspect'>;
/** What the adapters need of a verifier. */
export type BearerVerifier = Pick<Verifier, 'verify'>;
/**
 * Who answers for bearers: an introspector (who the bearer is; scopes checked here) or a verifier
 * (that, and the bearer's request limits and spend, counted at Tessera).
 */
export type BearerAuthority = BearerIntrospector | BearerVerifier;

/** What a request needs: scopes, all of them, and the credits it spends (a verifier only). */
export interface RequestNeeds {
  scopes: readonly string[];
  cost: number;
}

/** Throws when a cost is asked of an introspector, which cannot count it: a wiring mistake. */
export function checkAuthority(authority: BearerAuthority, costs: boolean): void {
  if (costs && !('verify' in authority)) throw new TypeError('a cost needs a verifier (createVerifier): introspection counts nothing');
}

/**
 * `Authorization: Bearer <token>` (RFC 6750 §2.1, the scheme case-insensitive), read as Tessera
 * reads it. Never from a query parameter: tokens in URLs end up in logs.
 */
export function bearerOf(header: string | undefined | null): string | null {
  if (!header) return null;
  const match = /^Bearer +([^ ]+) *$/i.exec(header);
  if (!match || match[1]!.length > MAX_BEARER_LENGTH) return null;
  return match[1]!;
}

export function unauthorized(): Refusal {
  return { status: 401, headers: { 'WWW-Authenticate': 'Bearer' }, body: { error: { code: 'UNAUTHORIZED', message: UNAUTHORIZED_MESSAGE } } };
}

/** 403 naming what is missing, in Tessera's words: "This credential lacks the leads:write scope". */
export function forbidden(missing: readonly string[]): Refusal {
  const message = missing.length === 1 ? `This credential lacks the ${missing[0]} scope` : `This credential lacks the ${missing.join(', ')} scopes`;
  return { status: 403, headers: {}, body: { error: { code: 'FORBIDDEN', message } } };
}

/** 429 with Retry-After, in the words products document: "Rate limit exceeded. Please retry after 60 seconds." */
export function rateLimited(retryAfterSeconds: number, headers: Record<string, string> = {}): Refusal {
  const wait = Math.max(1, Math.ceil(retryAfterSeconds));
  return { status: 429, headers: { ...headers, 'Retry-After': String(wait) }, body: { error: { code: 'RATE_LIMITED', message: `Rate limit exceeded. Please retry after ${wait} seconds.` } } };
}

/** 402: the daily spend cap (Retry-After until 00:00 UTC) or the organization's credit balance (no time to say). */
export function usageExceeded(retryAfterSeconds: number | null, headers: Record<string, string> = {}): Refusal {
  if (retryAfterSeconds === null) {
    return { status: 402, headers, body: { error: { code: 'USAGE_EXCEEDED', message: 'The organization’s credit balance is spent. Add credits to continue.' } } };
  }
  const wait = Math.max(1, Math.ceil(retryAfterSeconds));
  return { status: 402, headers: { ...headers, 'Retry-After': String(wait) }, body: { error: { code: 'USAGE_EXCEEDED', message: 'This credential’s daily spend cap is reached. It resets at 00:00 UTC.' } } };
}

export function unavailable(retryAfterSeconds = 1): Refusal {
  return {
    status: 503,
    headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
    body: { error: { code: 'UNAVAILABLE', message: 'The identity service is unavailable; retry shortly' } },
  };
}

/** The required scopes the principal does not hold, in the order required. */
export function missingScopes(principal: Principal, required: readonly string[]): string[] {
  return required.filter((scope) => !principal.scopes.includes(scope));
}

/**
 * The whole check of one request: a bearer in the header, usable at Tessera, holding every
 * required scope — and, with a verifier, within its limits and spend, this request counted.
 * Errors other than KitUnavailableError (bugs) are thrown: the adapter answers 500, never lets
 * the request through.
 */
export async function decide(authority: BearerAuthority, authorization: string | undefined | null, needs: RequestNeeds): Promise<Decision> {
  const token = bearerOf(authorization);
  if (token === null) return { ok: false, refusal: unauthorized() };
  try {
    if ('verify' in authority) return decision(await authority.verify(token, { cost: needs.cost, scopes: needs.scopes }));
    checkAuthority(authority, needs.cost > 0);
    const principal = await authority.introspect(token);
    if (principal === null) return { ok: false, refusal: unauthorized() };
    const missing = missingScopes(principal, needs.scopes);
    if (missing.length > 0) return { ok: false, refusal: forbidden(missing) };
    return { ok: true, principal, headers: {} };
  } catch (error) {
    if (error instanceof KitUnavailableError) return { ok: false, refusal: unavailable(error.retryAfterSeconds) };
    throw error;
  }
}

/** A verifier's answer as the response's status and headers. */
export function decision(v: Verification): Decision {
  const headers = v.ratelimit ? rateLimitHeaders(v.ratelimit.policies, Math.floor(Date.now() / 1000)) : {};
  switch (v.code) {
    case 'VALID':
      return { ok: true, principal: v.principal!, headers };
    case 'NOT_FOUND':
    case 'EXPIRED':
    case 'REVOKED':
      return { ok: false, refusal: unauthorized() };
    case 'DISABLED':
      return { ok: false, refusal: { status: 403, headers, body: { error: { code: 'FORBIDDEN', message: 'This credential is disabled' } } } };
    case 'INSUFFICIENT_SCOPE': {
      const refusal = forbidden(v.missingScopes);
      return { ok: false, refusal: { ...refusal, headers: { ...refusal.headers, ...headers } } };
    }
    case 'RATE_LIMITED':
      return { ok: false, refusal: rateLimited(v.retryAfter ?? 1, headers) };
    case 'USAGE_EXCEEDED':
      return { ok: false, refusal: usageExceeded(v.retryAfter, headers) };
  }
}

/** A request's cost: a number, or what a function of the request gives (checked each time). */
export type Cost<R> = number | ((request: R) => number);

/** The cost of this request; throws (a 500, never a pass) when a cost function gives no whole number of credits. */
export function costOf<R>(cost: Cost<R> | undefined, request: R): number {
  if (cost === undefined) return 0;
  return checkCost(typeof cost === 'function' ? cost(request) : cost);
}

/** For requireScopes after requireBearer: the refusal, or null when every scope is held. */
export function scopeRefusal(principal: Principal, scopes: readonly string[]): Refusal | null {
  const missing = missingScopes(principal, scopes);
  return missing.length > 0 ? forbidden(missing) : null;
}

/** Validates the scopes an application requires (RFC 6749 §3.3 scope-tokens), at start-up. */
export function checkScopeList(scopes: readonly string[]): string[] {
  for (const scope of scopes) {
    if (typeof scope !== 'string' || !/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(scope)) throw new TypeError(`not a scope: ${JSON.stringify(scope)}`);
  }
  return [...scopes];
}
