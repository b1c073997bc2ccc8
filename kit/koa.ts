/**
 * Koa adapter of the kit:
 *
 *   router.get('/leads', requireBearer(introspector, { scopes: ['leads:read'] }), handler)
 *   app.use(requireBearer(introspector)); router.post('/leads', requireScopes('leads:write'), handler)
 *
 * Refusals are written here, not thrown, so that they keep Tessera's error body whatever error
 * handler the application has. Only types are imported from koa.
 */
import type { Context, Middleware, Next } from 'koa';
import { checkScopeList, decide, scopeRefusal, type BearerIntrospector, type Refusal } from './bearer.ts';
import type { Principal } from './principal.ts';

export interface RequireBearerOptions {
  /** Scopes the bearer must all hold; a missing one is 403 FORBIDDEN naming it. */
  scopes?: string[];
}

/** What requireBearer puts in ctx.state. */
export interface BearerState {
  principal: Principal;
}

function refuse(ctx: Context, refusal: Refusal): void {
  ctx.status = refusal.status;
  for (const [name, value] of Object.entries(refusal.headers)) ctx.set(name, value);
  ctx.body = refusal.body;
}

/**
 * Requires an active bearer (and `scopes`): sets `ctx.state.principal`, or answers 401
 * (`WWW-Authenticate: Bearer`), 403 or 503 (Retry-After) without calling the next middleware.
 */
export function requireBearer(introspector: BearerIntrospector, options: RequireBearerOptions = {}): Middleware {
  const scopes = checkScopeList(options.scopes ?? []);
  return async (ctx: Context, next: Next) => {
    const decision = await decide(introspector, ctx.get('Authorization'), scopes);
    if (!decision.ok) {
      refuse(ctx, decision.refusal);
      return;
    }
    (ctx.state as BearerState).principal = decision.principal;
    await next();
  };
}

/** Per-route scopes, after requireBearer: 403 FORBIDDEN naming the first missing ones. */
export function requireScopes(...scopes: string[]): Middleware {
  const required = checkScopeList(scopes);
  return async (ctx: Context, next: Next) => {
    const refusal = scopeRefusal(principalOf(ctx), required);
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
