/**
 * What every adapter (Koa, node:http / Express) decides for a request, independent of the
 * framework: the bearer of the Authorization header, its principal, the scopes it lacks, its
 * limits when a verifier counts them — and the refusals, each answered as the deployment's
 * product profile says for its failure reason and bearer kind (src/domain/profile.ts), in the
 * profile's error body, so that a product's API and Tessera's own routes answer alike:
 *
 * | why | reason |
 * |---|---|
 * | no Authorization header, or not `Bearer <token>` | missing |
 * | introspection: Tessera says not active | unknown (bearer kind unknown) |
 * | verification: Tessera's answer | its `reason` and `bearer_kind` (from its `code` when it sends none) |
 * | a required scope missing, checked here | insufficient_scope, `{scope}`: the missing ones |
 * | Tessera cannot tell | 503 UNAVAILABLE in the profile's body, `Retry-After` — never a request let through |
 *
 * A 401 carries `WWW-Authenticate: Bearer` (RFC 6750 §3); a wait, `Retry-After` (also the
 * message's `{retryAfter}`). A verifier's answers carry the bearer's request windows: the
 * rate-limit headers (src/domain/rate-limit-headers.ts) go on the response, let through or refused.
 */
import { errorBody, refusalFor, type BearerKind, type FailureReason, type MessageField, type PublicProfile } from '../src/domain/profile.ts';
import { rateLimitHeaders } from '../src/domain/rate-limit-headers.ts';
import { KitUnavailableError, type Introspector } from './introspection-client.ts';
import type { Principal } from './principal.ts';
import { defaultProfile } from './profile-source.ts';
import { checkCost, reasonOfCode, type Verification, type Verifier } from './verify-client.ts';

/** Bearers longer than this are refused without asking Tessera. */
export const MAX_BEARER_LENGTH = 4096;
/** The kit's own words when Tessera cannot tell: no profile has a refusal for it, since Tessera itself is what is missing. */
export const UNAVAILABLE_MESSAGE = 'The identity service is unavailable; retry shortly';

/** A refusal as the response: its status, headers and body (whose shape the profile's template decides). */
export interface Refusal {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/**
 * `headers`: what to put on the response that follows (the rate-limit headers of a verifier's
 * answer); `profile`: the one the decision was made by, for the checks that follow (requireScopes).
 */
export type Decision = { ok: true; principal: Principal; headers: Record<string, string>; profile: PublicProfile } | { ok: false; refusal: Refusal };

/** What the adapters need of an introspector (without `profile`, a test double: Tessera's own profile). */
export type BearerIntrospector = Pick<Introspector, 'introspect'> & Partial<Pick<Introspector, 'profile'>>;
/** What the adapters need of a verifier (without `profile`, a test double: Tessera's own profile). */
export type BearerVerifier = Pick<Verifier, 'verify'> & Partial<Pick<Verifier, 'profile'>>;
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

/** A wait as Retry-After says it: whole seconds, at least one. */
function waitOf(seconds: number): number {
  return Math.max(1, Math.ceil(seconds));
}

/**
 * The refusal the profile says for `reason` and a bearer of `kind` (when known), its message's
 * fields filled, on `headers`: a `retryAfter` is also the Retry-After header; a 401 carries
 * `WWW-Authenticate: Bearer`.
 */
export function refusal(
  profile: PublicProfile,
  reason: FailureReason,
  kind?: BearerKind,
  fields: Partial<Record<MessageField, string | number>> = {},
  headers: Record<string, string> = {},
): Refusal {
  const said = refusalFor(profile.errors, reason, kind, fields);
  const out = { ...headers };
  if (fields.retryAfter !== undefined) out['Retry-After'] = String(fields.retryAfter);
  if (said.status === 401) out['WWW-Authenticate'] = 'Bearer';
  return { status: said.status, headers: out, body: errorBody(profile.errors, said.status, said.code, said.message) };
}

/** 503 UNAVAILABLE with Retry-After, in the profile's body (Tessera's own when the profile could not be learned). */
export function unavailable(profile: PublicProfile = defaultProfile(), retryAfterSeconds = 1): Refusal {
  return { status: 503, headers: { 'Retry-After': String(waitOf(retryAfterSeconds)) }, body: errorBody(profile.errors, 503, 'UNAVAILABLE', UNAVAILABLE_MESSAGE) };
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
  // Until the profile is learned, Tessera's own answers (a 503 when it cannot be).
  let profile = defaultProfile();
  try {
    profile = authority.profile ? await authority.profile() : profile;
    const token = bearerOf(authorization);
    if (token === null) return { ok: false, refusal: refusal(profile, 'missing') };
    if ('verify' in authority) return decision(profile, await authority.verify(token, { cost: needs.cost, scopes: needs.scopes }));
    checkAuthority(authority, needs.cost > 0);
    const principal = await authority.introspect(token);
    if (principal === null) return { ok: false, refusal: refusal(profile, 'unknown') };
    const refused = scopeRefusal(profile, principal, needs.scopes);
    if (refused) return { ok: false, refusal: refused };
    return { ok: true, principal, headers: {}, profile };
  } catch (error) {
    if (error instanceof KitUnavailableError) return { ok: false, refusal: unavailable(profile, error.retryAfterSeconds) };
    throw error;
  }
}

/**
 * A verifier's answer as the response: let through with the rate-limit headers, or refused as
 * the profile says for its reason and bearer kind, those headers kept.
 */
export function decision(profile: PublicProfile, v: Verification): Decision {
  const headers = v.ratelimit ? rateLimitHeaders(v.ratelimit.policies, Math.floor(Date.now() / 1000)) : {};
  const reason = v.reason ?? reasonOfCode(v.code, v.retryAfter);
  if (reason === null) return { ok: true, principal: v.principal!, headers, profile };
  const fields: Partial<Record<MessageField, string | number>> = {};
  // A full window always has a time to wait; the credit balance never has one.
  if (v.retryAfter !== null) fields.retryAfter = waitOf(v.retryAfter);
  else if (reason === 'rate_limited') fields.retryAfter = 1;
  if (v.missingScopes.length > 0) fields.scope = v.missingScopes.join(', ');
  return { ok: false, refusal: refusal(profile, reason, v.bearerKind ?? v.principal?.kind, fields, headers) };
}

/** A request's cost: a number, or what a function of the request gives (checked each time). */
export type Cost<R> = number | ((request: R) => number);

/** The cost of this request; throws (a 500, never a pass) when a cost function gives no whole number of credits. */
export function costOf<R>(cost: Cost<R> | undefined, request: R): number {
  if (cost === undefined) return 0;
  return checkCost(typeof cost === 'function' ? cost(request) : cost);
}

/** The refusal of a principal that lacks required scopes (insufficient_scope naming them), or null when it holds them all. */
export function scopeRefusal(profile: PublicProfile, principal: Principal, scopes: readonly string[]): Refusal | null {
  const missing = missingScopes(principal, scopes);
  return missing.length > 0 ? refusal(profile, 'insufficient_scope', principal.kind, { scope: missing.join(', ') }) : null;
}

/** Validates the scopes an application requires (RFC 6749 §3.3 scope-tokens), at start-up. */
export function checkScopeList(scopes: readonly string[]): string[] {
  for (const scope of scopes) {
    if (typeof scope !== 'string' || !/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(scope)) throw new TypeError(`not a scope: ${JSON.stringify(scope)}`);
  }
  return [...scopes];
}
