import type { Context, Middleware } from 'koa';
import type { SessionPrincipal } from '../../domain/principal.ts';
import type { SessionRecord } from '../../domain/session.ts';
import { isAppError } from '../../errors/index.ts';
import { httpStatusFor } from '../../errors/http-status.ts';
import type { AccountService } from '../../services/accounts/account-service.ts';
import type { SessionService } from '../../services/sessions/session-service.ts';
import { csrfMatches, csrfToken } from '../csrf.ts';
import { html } from '../views/html.ts';
import { sendConsolePage, type Brand, type Viewer } from './views/console-page.ts';
import { notice } from './views/parts.ts';

export const SESSION_COOKIE = 'tessera_session';

/** What every console handler gets: who is signed in, and the form token of their session. */
export interface ConsoleState {
  principal: SessionPrincipal;
  session: SessionRecord;
  token: string;
  viewer: Viewer;
}

export interface ConsoleDeps {
  sessions: SessionService;
  accounts: AccountService;
  /** The CSRF tokens' key (the first cookie key). */
  csrfKey: string;
  brand: Brand;
}

export function consoleState(ctx: Context): ConsoleState {
  const state = (ctx.state as { console?: ConsoleState }).console;
  if (!state) throw new Error('no console session on this request: mount requireSession() before it');
  return state;
}

/** The session cookie: HttpOnly, SameSite=Lax (a cross-site form post carries none), Secure over TLS, until the session's absolute end. */
export function setSessionCookie(ctx: Context, token: string, expiresAt: Date): void {
  ctx.cookies.set(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'lax', secure: ctx.secure, signed: false, overwrite: true, path: '/', expires: expiresAt });
}

export function clearSessionCookie(ctx: Context): void {
  ctx.cookies.set(SESSION_COOKIE, '', { httpOnly: true, sameSite: 'lax', secure: ctx.secure, signed: false, overwrite: true, path: '/', expires: new Date(0) });
}

/** A path inside the console to return to after sign-in; anything else (another site, a scheme-relative URL) is the keys page. */
export function returnPath(raw: unknown): string {
  return typeof raw === 'string' && /^\/settings(\/[A-Za-z0-9_\-/]*)?(\?[A-Za-z0-9_\-=&%.]*)?$/.test(raw) ? raw : '/settings/api-keys';
}

/**
 * Requires a signed-in person. Without a session, a page asks to sign in and comes back; a form
 * post is not acted on. A form post must carry its session's CSRF token (403 otherwise). A
 * session in a disabled organization may only switch organization or sign out.
 */
export function requireSession(deps: ConsoleDeps): Middleware {
  return async (ctx, next) => {
    const token = ctx.cookies.get(SESSION_COOKIE) ?? '';
    const resolution = token === '' ? ({ status: 'none' } as const) : await deps.sessions.resolve(token);
    if (resolution.status === 'none') {
      if (token !== '') clearSessionCookie(ctx);
      const back = ctx.method === 'GET' ? `?return_to=${encodeURIComponent(returnPath(ctx.originalUrl))}` : '';
      ctx.status = 303;
      ctx.redirect(`/sign-in${back}`);
      return;
    }
    const { principal, session } = resolution;
    const user = await deps.accounts.findUser(principal.userId);
    const csrf = csrfToken(deps.csrfKey, `session:${session.publicId}`);
    const viewer: Viewer = { email: user?.email ?? '', orgId: principal.orgId, role: principal.role, organizations: resolution.organizations, csrf, path: returnPath(ctx.path) };
    (ctx.state as { console: ConsoleState }).console = { principal, session, token, viewer };
    if (ctx.method === 'POST' && !csrfMatches(deps.csrfKey, `session:${session.publicId}`, (ctx.state.form as URLSearchParams | undefined)?.get('csrf'))) {
      sendConsolePage(ctx, deps.brand, { title: 'Form expired', status: 403, viewer, body: html`<h1>This form has expired</h1>${notice('error', 'It was not sent from this session, so nothing was done. Go back, reload the page and try again.')}` });
      return;
    }
    if (resolution.status === 'organization-disabled' && ctx.path !== '/settings/organization' && ctx.path !== '/sign-out') {
      sendConsolePage(ctx, deps.brand, {
        title: 'Organization disabled',
        status: 403,
        viewer,
        body: html`<h1>This organization is disabled</h1>${notice('error', 'Nothing can be done in it. Switch to another of your organizations, or ask its owner.')}`,
      });
      return;
    }
    await next();
  };
}

/**
 * A console page for every refusal the services answer (AppError): its message, and the status
 * of its code (errors/http-status.ts) — the API's rule, shown as a page.
 */
export function consoleErrors(brand: Brand): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      if (!isAppError(error)) throw error;
      const viewer = (ctx.state as { console?: ConsoleState }).console?.viewer;
      const status = httpStatusFor(error.code);
      if (error.retryAfterSeconds !== undefined) ctx.set('Retry-After', String(error.retryAfterSeconds));
      sendConsolePage(ctx, brand, {
        title: status === 404 ? 'Not found' : 'Not allowed',
        status,
        ...(viewer ? { viewer } : {}),
        body: html`<h1>${status === 404 ? 'Not found' : 'That cannot be done'}</h1>${notice('error', error.message)}<p><a href="/settings/api-keys">Back to the settings</a></p>`,
      });
    }
  };
}
