/**
 * node:http and Express adapter of the kit:
 *
 *   // Express (or connect, polka…): (req, res, next)
 *   app.get('/leads', requireBearerNode(verifier, { scopes: ['leads:read'] }), (req, res) => res.json(req.principal))
 *   app.post('/runs', requireBearerNode(verifier, { cost: (req) => creditsOf(req) }), handler)
 *
 *   // bare node:http
 *   createServer(withBearer(introspector, (req, res) => { res.end(req.principal.org_id) }, { scopes: ['leads:read'] }))
 *
 * Refusals are written in the profile's JSON error body, with their headers; the next handler is
 * never called for them. No Express types are needed: requests and responses are node:http's.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody, type PublicProfile } from '../src/domain/profile.ts';
import { checkAuthority, checkScopeList, costOf, decide, scopeRefusal, type BearerAuthority, type Cost, type Decision, type Refusal } from './bearer.ts';
import type { Principal } from './principal.ts';
import { defaultProfile } from './profile-source.ts';

/** A request that passed requireBearerNode / withBearer. */
export interface BearerRequest extends IncomingMessage {
  principal: Principal;
  /** The profile the bearer was judged by: requireScopesNode refuses in the same words. */
  tesseraProfile: PublicProfile;
}

export interface NodeBearerOptions {
  /** Scopes the bearer must all hold; a missing one is refused as the profile says (insufficient_scope). */
  scopes?: string[];
  /** Credits the request spends (a verifier only): a whole number, or a function of the request. */
  cost?: Cost<IncomingMessage>;
}

export type NextFunction = (error?: unknown) => void;

/** Writes a refusal (status, headers, JSON body) unless a response was already started. */
export function sendRefusal(res: ServerResponse, refusal: Refusal): void {
  if (res.headersSent) return;
  const body = JSON.stringify(refusal.body);
  res.writeHead(refusal.status, { ...refusal.headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** A 500 in the profile's body, as the product's other errors (Tessera's own profile when it is not known). */
async function internalError(authority: BearerAuthority, res: ServerResponse): Promise<void> {
  const profile = (await authority.profile?.().catch(() => undefined)) ?? defaultProfile();
  sendRefusal(res, { status: 500, headers: {}, body: errorBody(profile.errors, 500, 'INTERNAL', 'Internal error') });
}

function authorizationOf(req: IncomingMessage): string | undefined {
  return req.headers.authorization;
}

/** The whole check of a request (a cost function that throws is a rejection: a 500, never a pass). */
function check(authority: BearerAuthority, req: IncomingMessage, scopes: readonly string[], options: NodeBearerOptions): Promise<Decision> {
  return Promise.resolve().then(() => decide(authority, authorizationOf(req), { scopes, cost: costOf(options.cost, req) }));
}

/** Lets the request through: its principal and profile, and the rate-limit headers on whatever answers it. */
function admit(req: IncomingMessage, res: ServerResponse, decision: Extract<Decision, { ok: true }>): void {
  for (const [name, value] of Object.entries(decision.headers)) res.setHeader(name, value);
  Object.assign(req as BearerRequest, { principal: decision.principal, tesseraProfile: decision.profile });
}

/**
 * Express-style middleware: sets `req.principal` and `req.tesseraProfile` (and the rate-limit
 * headers) and calls `next()`, or answers as the profile says (503 when Tessera cannot tell).
 * Unexpected errors go to `next(error)`.
 */
export function requireBearerNode(authority: BearerAuthority, options: NodeBearerOptions = {}): (req: IncomingMessage, res: ServerResponse, next: NextFunction) => void {
  const scopes = checkScopeList(options.scopes ?? []);
  checkAuthority(authority, options.cost !== undefined && options.cost !== 0);
  return (req, res, next) => {
    check(authority, req, scopes, options).then(
      (decision) => {
        if (!decision.ok) {
          sendRefusal(res, decision.refusal);
          return;
        }
        admit(req, res, decision);
        next();
      },
      (error: unknown) => next(error),
    );
  };
}

/** Per-route scopes after requireBearerNode: refused as its profile says, naming the missing ones; 500 (via next) if no principal. */
export function requireScopesNode(...scopes: string[]): (req: IncomingMessage, res: ServerResponse, next: NextFunction) => void {
  const required = checkScopeList(scopes);
  return (req, res, next) => {
    const { principal, tesseraProfile } = req as Partial<BearerRequest>;
    if (!principal) {
      next(new Error('no principal on this request: mount requireBearerNode() before it'));
      return;
    }
    // A principal set by other means than requireBearerNode: Tessera's own profile.
    const refusal = scopeRefusal(tesseraProfile ?? defaultProfile(), principal, required);
    if (refusal) {
      sendRefusal(res, refusal);
      return;
    }
    next();
  };
}

/**
 * Wraps a bare node:http handler: it runs only for an active bearer holding `scopes`, with
 * `req.principal` set. An error thrown by the check or by the handler is a 500 in the profile's
 * error body (if nothing was sent yet; else the connection is cut).
 */
export function withBearer(
  authority: BearerAuthority,
  handler: (req: BearerRequest, res: ServerResponse) => void | Promise<void>,
  options: NodeBearerOptions = {},
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const scopes = checkScopeList(options.scopes ?? []);
  checkAuthority(authority, options.cost !== undefined && options.cost !== 0);
  return async (req, res) => {
    try {
      const decision = await check(authority, req, scopes, options);
      if (!decision.ok) {
        sendRefusal(res, decision.refusal);
        return;
      }
      admit(req, res, decision);
      await handler(req as BearerRequest, res);
    } catch {
      if (res.headersSent) res.destroy();
      else await internalError(authority, res);
    }
  };
}
