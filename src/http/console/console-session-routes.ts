import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import Router from '@koa/router';
import type { Context } from 'koa';
import { formBody } from '../middleware/form-body.ts';
import { csrfMatches, csrfToken } from '../csrf.ts';
import { clearSessionCookie, consoleErrors, consoleState, requireSession, returnPath, SESSION_COOKIE, setSessionCookie, type ConsoleDeps } from './console-session.ts';
import { sendConsolePage } from './views/console-page.ts';
import { signInBody } from './views/sign-in-page.ts';

/** The sign-in page's own cookie: its form's CSRF token is bound to it (login CSRF), for 30 minutes. */
const SIGN_IN_COOKIE = 'tessera_sign_in';
const SIGN_IN_COOKIE_MS = 30 * 60_000;
const LOGO_TYPES: Record<string, string> = { '.png': 'image/png', '.svg': 'image/svg+xml', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp' };

/**
 * Signing in and out of the console, switching organization, and the brand's logo. Sign-in is
 * throttled as every sign-in is, and a successful one always starts a new session (the old one,
 * if any, is ended: session fixation).
 */
export function consoleSessionRoutes(deps: ConsoleDeps & { logoFile: string | null }): Router {
  const router = new Router();
  const session = requireSession(deps);
  const form = formBody();
  const logo = deps.logoFile ? { body: readFileSync(deps.logoFile), type: LOGO_TYPES[extname(deps.logoFile).toLowerCase()] ?? 'application/octet-stream' } : null;

  const signInPage = (ctx: Context, status: number, extra: { email?: string; error?: string } = {}, returnTo = returnPath(ctx.query.return_to)): void => {
    // One nonce per browser for the page's lifetime: the form's token is bound to it.
    let nonce = ctx.cookies.get(SIGN_IN_COOKIE) ?? '';
    if (!/^[A-Za-z0-9_-]{22}$/.test(nonce)) {
      nonce = randomBytes(16).toString('base64url');
      ctx.cookies.set(SIGN_IN_COOKIE, nonce, { httpOnly: true, sameSite: 'lax', secure: ctx.secure, signed: false, overwrite: true, path: '/sign-in', maxAge: SIGN_IN_COOKIE_MS });
    }
    sendConsolePage(ctx, deps.brand, { title: 'Sign in', status, body: signInBody({ csrf: csrfToken(deps.csrfKey, `sign-in:${nonce}`), returnTo, brandName: deps.brand.name, ...extra }) });
  };

  router.use(consoleErrors(deps.brand));

  // Shown even to someone signed in: signing in again (as another person, say) ends that session.
  router.get('/sign-in', (ctx) => {
    signInPage(ctx, 200);
  });

  router.post('/sign-in', form, async (ctx) => {
    const fields = ctx.state.form as URLSearchParams;
    const returnTo = returnPath(fields.get('return_to'));
    const email = (fields.get('email') ?? '').slice(0, 320);
    if (!csrfMatches(deps.csrfKey, `sign-in:${ctx.cookies.get(SIGN_IN_COOKIE) ?? ''}`, fields.get('csrf'))) {
      return signInPage(ctx, 403, { email, error: 'This sign-in form has expired. Please try again.' }, returnTo);
    }
    const outcome = await deps.sessions.signIn({ email, password: fields.get('password') ?? '', clientAddress: ctx.ip, userAgent: ctx.get('User-Agent') });
    switch (outcome.kind) {
      case 'wrong-credentials':
        return signInPage(ctx, 401, { email, error: 'Wrong email or password.' }, returnTo);
      case 'throttled':
        ctx.set('Retry-After', String(outcome.retryAfterSeconds));
        return signInPage(ctx, 429, { email, error: `Too many attempts. Try again in ${outcome.retryAfterSeconds} second${outcome.retryAfterSeconds === 1 ? '' : 's'}.` }, returnTo);
      case 'no-organization':
        return signInPage(ctx, 403, { email, error: 'Your account belongs to no organization yet. Ask an owner to add you.' }, returnTo);
      case 'signed-in': {
        // A session this browser had before is ended, not carried on.
        const previous = ctx.cookies.get(SESSION_COOKIE);
        if (previous) await deps.sessions.signOut(previous);
        setSessionCookie(ctx, outcome.token, outcome.session.expiresAt);
        ctx.cookies.set(SIGN_IN_COOKIE, '', { path: '/sign-in', expires: new Date(0), httpOnly: true, sameSite: 'lax', secure: ctx.secure });
        ctx.status = 303;
        ctx.redirect(returnTo);
      }
    }
  });

  router.post('/sign-out', form, session, async (ctx) => {
    await deps.sessions.signOut(consoleState(ctx).token);
    clearSessionCookie(ctx);
    ctx.status = 303;
    ctx.redirect('/sign-in');
  });

  router.post('/sign-out/everywhere', form, session, async (ctx) => {
    await deps.sessions.signOutEverywhere(consoleState(ctx).principal);
    clearSessionCookie(ctx);
    ctx.status = 303;
    ctx.redirect('/sign-in');
  });

  router.post('/settings/organization', form, session, async (ctx) => {
    const fields = ctx.state.form as URLSearchParams;
    await deps.sessions.switchOrganization(consoleState(ctx).token, fields.get('org_id') ?? '');
    ctx.status = 303;
    ctx.redirect(returnPath(fields.get('return_to')));
  });

  router.get('/settings', session, (ctx) => {
    ctx.status = 303;
    ctx.redirect('/settings/api-keys');
  });

  router.get('/console/logo', (ctx) => {
    if (!logo) return;
    ctx.type = logo.type;
    ctx.set('Cache-Control', 'public, max-age=3600');
    // An SVG opened on its own runs no script and loads nothing.
    ctx.set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'");
    ctx.body = logo.body;
  });

  return router;
}
