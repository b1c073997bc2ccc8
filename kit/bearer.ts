/**
 * What every adapter (Koa, node:http / Express) decides for a request, independent of the
 * framework: the bearer of the Authorization header, its principal, the scopes it lacks, and the
 * refusals with Tessera's error body — `{"error":{"code","message"}}`, 401 with
 * `WWW-Authenticate: Bearer`, 403 FORBIDDEN naming the missing scope, 503 UNAVAILABLE with
 * Retry-After when Tessera cannot tell (never a request let through).
 */
import { KitUnavailableError, type Introspector } from './introspection-client.ts';
import type { Principal } from './principal.ts';

/** Tessera's own wording, for both bearer kinds. */
export const UNAUTHORIZED_MESSAGE = 'Invalid or missing API key';
/** Bearers longer than this are refused without asking Tessera. */
export const MAX_BEARER_LENGTH = 4096;

export type KitErrorCode = 'UNAUTHORIZED' | 'FORBIDDEN' | 'UNAVAILABLE';

export interface ErrorBody {
  error: { code: KitErrorCode; message: string };
}

export interface Refusal {
  status: 401 | 403 | 503;
  headers: Record<string, string>;
  body: ErrorBody;
}

export type Decision = { ok: true; principal: Principal } | { ok: false; refusal: Refusal };

/** What the adapters need of an introspector. */
export type BearerIntrospector = Pick<Introspector, 'introspect'>;

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
 * The whole check of one request: a bearer in the header, active at Tessera, holding every
 * required scope. Errors other than KitUnavailableError (bugs) are thrown: the adapter answers
 * 500, never lets the request through.
 */
export async function decide(introspector: BearerIntrospector, authorization: string | undefined | null, scopes: readonly string[]): Promise<Decision> {
  const token = bearerOf(authorization);
  if (token === null) return { ok: false, refusal: unauthorized() };
  let principal: Principal | null;
  try {
    principal = await introspector.introspect(token);
  } catch (error) {
    if (error instanceof KitUnavailableError) return { ok: false, refusal: unavailable(error.retryAfterSeconds) };
    throw error;
  }
  if (principal === null) return { ok: false, refusal: unauthorized() };
  const missing = missingScopes(principal, scopes);
  if (missing.length > 0) return { ok: false, refusal: forbidden(missing) };
  return { ok: true, principal };
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
