import { PassThrough } from 'node:stream';
import type { Context, Middleware, Next } from 'koa';
import type Provider from 'oidc-provider';
import { isAppError } from '../errors/index.ts';
import { OAUTH_ROUTES } from './provider.ts';
import { temporarilyUnavailable, writeOAuthError } from '../http/oauth-error.ts';

const FORM_LIMIT = 56 * 1024;

/** Paths the provider answers; the rest of the app never sees them. */
function ownedByProvider(path: string): boolean {
  return path.startsWith('/oauth/') || path === '/.well-known/openid-configuration' || path === '/.well-known/oauth-authorization-server';
}

export interface MountOptions {
  provider: Provider;
  /** The API's scopes, which discovery lists beside the OpenID Connect ones (RFC 8414 §2 scopes_supported). */
  apiScopes: readonly string[];
  /**
   * Middleware that runs before the provider on POST to these paths, with the parsed form in
   * ctx.state.oauthForm (the provider still reads the body as it came).
   */
  before: Partial<Record<(typeof OAUTH_ROUTES)[keyof typeof OAUTH_ROUTES], Middleware[]>>;
}

/**
 * oidc-provider inside Tessera's Koa app: the issuer is BASE_URL (mounted at the root), its
 * endpoints live under /oauth. Its middleware runs on our context (request id, access log and
 * security headers apply), and:
 * - the token endpoint never answers a 5xx other than 503 with Retry-After: a store outage must
 *   make connectors retry, not disconnect (Zapier marks a connection stale on a 4xx);
 * - offline_access is honoured without prompt=consent, because Tessera always asks for consent.
 */
export function mountProvider(options: MountOptions): Middleware {
  const { provider } = options;
  const providerMiddleware = composeAll((provider as unknown as { middleware: Middleware[] }).middleware);
  const chains = new Map(Object.entries(options.before).map(([path, middleware]) => [path, composeAll([...(middleware ?? []), providerMiddleware])]));

  return async (ctx, next) => {
    if (!ownedByProvider(ctx.path)) return next();
    if (ctx.path === OAUTH_ROUTES.authorization && ctx.method === 'GET') requireConsentForOfflineAccess(ctx);
    const chain = ctx.method === 'POST' ? chains.get(ctx.path) : undefined;
    const isToken = ctx.path === OAUTH_ROUTES.token && ctx.method === 'POST';
    if (!chain && !isToken) {
      await providerMiddleware(ctx, next);
      if (DISCOVERY_PATHS.has(ctx.path) && ctx.status === 200) withApiScopes(ctx, options.apiScopes);
      return;
    }
    const original = ctx.req;
    try {
      await readForm(ctx);
      await (chain ?? providerMiddleware)(ctx, next);
    } catch (error) {
      if (!isToken || !isAppError(error) || error.code !== 'UNAVAILABLE') throw error;
      writeOAuthError(ctx, temporarilyUnavailable('The authorization server is temporarily unavailable'));
      return;
    } finally {
      ctx.req = original;
    }
    if (isToken && ctx.status >= 500) writeOAuthError(ctx, temporarilyUnavailable('The authorization server is temporarily unavailable'));
  };
}

/**
 * A POSTed form, read once for our middleware (ctx.state.oauthForm); the provider then
 * reads the same bytes from a replay of the request stream, as if nothing had touched it.
 */
async function readForm(ctx: Context): Promise<void> {
  if (!ctx.is('application/x-www-form-urlencoded')) return;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    size += chunk.length;
    chunks.push(chunk);
    if (size > FORM_LIMIT) break; // the provider refuses it as too large
  }
  const body = Buffer.concat(chunks);
  const replay = new PassThrough();
  replay.end(body);
  ctx.req = Object.assign(replay, { headers: ctx.req.headers, method: ctx.req.method, url: ctx.req.url }) as unknown as typeof ctx.req;
  ctx.state.oauthForm = new URLSearchParams(body.toString('utf8'));
}

const DISCOVERY_PATHS = new Set(['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']);

/** The provider knows only its OpenID Connect scopes: the API's are Tessera's (see provider.ts). */
function withApiScopes(ctx: Context, apiScopes: readonly string[]): void {
  const body = ctx.body as { scopes_supported?: string[] };
  body.scopes_supported = [...new Set([...(body.scopes_supported ?? []), ...apiScopes])];
}

/** OIDC Core §11 ignores offline_access without prompt=consent; Tessera always prompts for consent. */
function requireConsentForOfflineAccess(ctx: Context): void {
  const query = { ...ctx.query };
  const scope = typeof query.scope === 'string' ? query.scope.split(' ') : [];
  const prompt = typeof query.prompt === 'string' ? query.prompt.split(' ').filter((p) => p.length > 0) : [];
  if (!scope.includes('offline_access') || prompt.includes('consent') || prompt.includes('none')) return;
  query.prompt = [...prompt, 'consent'].join(' ');
  ctx.query = query;
}

function composeAll(middleware: Middleware[]): (ctx: Context, next: Next) => Promise<void> {
  return (ctx, next) => {
    let index = -1;
    const dispatch = async (i: number): Promise<void> => {
      if (i <= index) throw new Error('next() called multiple times');
      index = i;
      const fn = i === middleware.length ? next : middleware[i];
      if (!fn) return;
      await fn(ctx, () => dispatch(i + 1));
    };
    return dispatch(0);
  };
}
