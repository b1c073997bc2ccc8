/**
 * Koa adapter of the kit:
 *
 *   router.get('/leads', requireBearer(verifier, { scopes: ['leads:read'] }), handler)
 *   router.post('/runs', requireBearer(verifier, { scopes: ['runs:write'], cost: (ctx) => creditsOf(ctx) }), handler)
 *   app.use(requireBearer(introspector)); router.post('/leads', requireScopes('leads:write'), handler)
 *
 * Refusals are written here, not thrown, so that they keep the profile's error body whatever
 * error handler the application has. Only types are imported from koa.
 */
import type { Context, Middleware, Next } from 'koa';
import type { PublicProfile } from '../src/domain/profile.ts';
import { checkAuthority, checkScopeList, costOf, decide, scopeRefusal, type BearerAuthority, type Cost, type Refusal } from './bearer.ts';
import type { Principal } from './principal.ts';
import { defaultProfile } from './profile-source.ts';

export interface RequireBearerOptions {
  /** Scopes the bearer must all hold; a missing one is refused as the profile says (insufficient_scope). */
  scopes?: string[];
  /** Credits the request spends (a verifier only): a whole number, or a function of the request. */
  cost?: Cost<Context>;
}

/** What requireBearer puts in ctx.state. */
export interface BearerState {
  principal: Principal;
  /** The profile the bearer was judged by: requireScopes refuses in the same words. */
  tesseraProfile: PublicProfile;
}

function refuse(ctx: Context, refusal: Refusal): void {
  ctx.status = refusal.status;
  for (const [name, value] of Object.entries(refusal.headers)) ctx.set(name, value);
  ctx.body = refusal.body;
}

/**
 * Requires a usable bearer (and `scopes`, and with a verifier its limits and spend): sets
 * `ctx.state.principal` (and `ctx.state.tesseraProfile`) and the rate-limit headers, or answers
 * as the profile says for the failure — a 401 with `WWW-Authenticate: Bearer`, a wait with
 * Retry-After, 503 when Tessera cannot tell — without calling the next middleware. An error
 * handler that empties the headers (Koa's own does) drops the rate-limit headers of a failed
 * handler.
 */
export function requireBearer(authority: BearerAuthority, options: RequireBearerOptions = {}): Middleware {
  const scopes = checkScopeList(options.scopes ?? []);
  checkAuthority(authority, options.cost !== undefined && options.cost !== 0);
  return async (ctx: Context, next: Next) => {
    const decision = await decide(authority, ctx.get('Authorization'), { scopes, cost: costOf(options.cost, ctx) });
    if (!decision.ok) {
      refuse(ctx, decision.refusal);
      return;
    }
    ctx.set(decision.headers);
    Object.assign(ctx.state as BearerState, { principal: decision.principal, tesseraProfile: decision.profile });
    await next();
  };
}

/** Per-route scopes, after requireBearer: refused as requireBearer's profile says, naming the missing ones. */
export function requireScopes(...scopes: string[]): Middleware {
  const required = checkScopeList(scopes);
  return async (ctx: Context, next: Next) => {
    const principal = principalOf(ctx);
    // A principal set by other means than requireBearer: Tessera's own profile.
    const profile = (ctx.state as Partial<BearerState>).tesseraProfile ?? defaultProfile();
    const refusal = scopeRefusal(profile, principal, required);
    if (refusal) {
      refuse(ctx, refusal);
      return;
    }
    await next();
  };
}

/** The principal requireBearer attached; throws when requireBearer did not run (a wiring mistake). */
export function principalOf(ctx: Pick<Context, 'state'>): Principal {
  const principal = (ctx.state as Partial<BearerState>).principal;
  if (!principal) throw new Error('no principal on this request: mount requireBearer() before it');
  return principal;
}
