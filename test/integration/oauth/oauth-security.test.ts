/**
 * The authorization server's security rules, against Tessera in this process on its real HTTP
 * surface, on the memory stores and on MongoDB + Redis: exact redirect URIs (an error page, never a
 * redirect), PKCE S256 only, single-use codes (also under 20 concurrent redemptions), refresh
 * token reuse after the idempotency window, denial, sign-in throttling, CSRF, the pages' headers,
 * disabled clients, resource servers, opaque tokens.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  apiCall,
  connect,
  connectAndExchange,
  csrfOf,
  oauthPost,
  OAuthBrowser,
  pkce,
  startOAuthApp,
  tokenRequest,
  UNAUTHORIZED_BODY,
  type ApiReply,
  type Landing,
  type OAuthApp,
  type OAuthFixture,
  type TokenReply,
} from '../../support/oauth-browser.ts';

const SECOND_REDIRECT_URI = 'https://make.example/oauth/callback';

function authParams(fixture: OAuthFixture, challenge: string, overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const params: Record<string, string | undefined> = {
    client_id: fixture.connector.id,
    response_type: 'code',
    redirect_uri: fixture.connector.redirectUri,
    scope: 'leads:read apps:read offline_access',
    state: 'state-123',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...overrides,
  };
  return Object.fromEntries(Object.entries(params).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/** A server-rendered page that cannot be framed, leaks no Referer, is never cached and loads nothing. */
function expectSafePage(page: Landing): void {
  expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
  const csp = page.headers.get('content-security-policy') ?? '';
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toContain("default-src 'none'");
  expect(page.headers.get('referrer-policy')).toBe('no-referrer');
  expect(page.headers.get('cache-control')).toBe('no-store');
  expect(page.body).not.toMatch(/\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?\/\//i);
  expect(page.body).not.toMatch(/<script/i);
}

/** Refused with an error page: nothing is sent anywhere. */
function expectErrorPage(page: Landing, status: number, error: string): void {
  expect({ status: page.status, location: page.headers.get('location'), redirect: page.redirect }).toEqual({ status, location: null, redirect: null });
  expectSafePage(page);
  expect(page.body).toContain('This connection cannot continue');
  expect(page.body).toContain(`Error: ${error}.`);
}

function expectUnauthorized(reply: ApiReply): void {
  expect({ status: reply.status, text: reply.text, challenge: reply.headers.get('www-authenticate') }).toEqual({
    status: 401,
    text: UNAUTHORIZED_BODY,
    challenge: 'Bearer',
  });
}

function expectInvalidGrant(reply: TokenReply): void {
  expect({ status: reply.status, error: reply.body.error, access_token: reply.body.access_token }).toEqual({
    status: 400,
    error: 'invalid_grant',
    access_token: undefined,
  });
}

const exchange = (app: OAuthApp, code: string, verifier: string): Promise<TokenReply> =>
  tokenRequest(app.url, app.fixture.connector, { grant_type: 'authorization_code', code, redirect_uri: app.fixture.connector.redirectUri, code_verifier: verifier });

const refresh = (app: OAuthApp, refreshToken: string): Promise<TokenReply> =>
  tokenRequest(app.url, app.fixture.connector, { grant_type: 'refresh_token', refresh_token: refreshToken });

/** The ids of the user's connected apps in org2 (read with the user's API key there). */
async function connectedApps(app: OAuthApp): Promise<string[]> {
  const list = await apiCall(app.url, 'GET', '/api/v1/connected-apps', app.fixture.keys.org2);
  expect(list.status).toBe(200);
  return (list.body as Array<{ id: string }>).map((a) => a.id);
}

/** The grant id of an access token that works. */
async function grantOf(app: OAuthApp, accessToken: string): Promise<string> {
  const me = await apiCall(app.url, 'GET', '/api/v1/me', accessToken);
  expect(me.status).toBe(200);
  return (me.body as { grant_id: string }).grant_id;
}

/** A grant the provider ended is no longer a connected app by the time the answer is sent. */
async function expectAppGone(app: OAuthApp, grantId: string): Promise<void> {
  expect(await connectedApps(app)).not.toContain(grantId);
}

describe.each(['memory', 'external'] as const)('OAuth security (%s stores)', (mode) => {
  let app: OAuthApp;

  beforeAll(async () => {
    app = await startOAuthApp(mode, { label: 'oauth-security' });
    // A second registered URI without a trailing slash, to try adding one.
    await app.tessera.stores.clients.update(app.fixture.connector.id, { redirectUris: [app.fixture.connector.redirectUri, SECOND_REDIRECT_URI] });
  }, 30_000);

  afterAll(async () => {
    await app?.close();
  });

  describe('the authorization request', () => {
    it.each([
      ['the registered one', 'https://zapier.example/oauth/return/App1/'],
      ['the second registered one', SECOND_REDIRECT_URI],
    ])('with %s as redirect URI, leads to the sign-in page', async (_name, uri) => {
      const page = await new OAuthBrowser().authorize(app.url, authParams(app.fixture, pkce().challenge, { redirect_uri: uri }));
      expect(page.status).toBe(200);
      expect(page.url.pathname).toMatch(/^\/interaction\/[A-Za-z0-9_-]+$/);
      expect(page.body).toContain('Sign in to connect Zapier');
      expectSafePage(page);
    });

    it.each([
      ['trailing slash removed', 'https://zapier.example/oauth/return/App1'],
      ['trailing slash added', `${SECOND_REDIRECT_URI}/`],
      ['another case in the path', 'https://zapier.example/oauth/return/app1/'],
      ['another case in the host', 'https://Zapier.Example/oauth/return/App1/'],
      ['an extra query string', 'https://zapier.example/oauth/return/App1/?next=https://evil.example/'],
      ['a path suffix', 'https://zapier.example/oauth/return/App1/evil'],
      ['another port', 'https://zapier.example:8443/oauth/return/App1/'],
      ['http instead of https', 'http://zapier.example/oauth/return/App1/'],
      ['another host', 'https://evil.example/oauth/return/App1/'],
    ])('with the redirect URI varied (%s), is refused with an error page and no redirect', async (_name, uri) => {
      const page = await new OAuthBrowser().authorize(app.url, authParams(app.fixture, pkce().challenge, { redirect_uri: uri }));
      expectErrorPage(page, 400, 'invalid_redirect_uri');
    });

    it('with an unknown client_id, is refused with an error page and no redirect', async () => {
      const page = await new OAuthBrowser().authorize(app.url, authParams(app.fixture, pkce().challenge, { client_id: 'no-such-client' }));
      expectErrorPage(page, 400, 'invalid_client');
    });

    it('without a code_challenge, is refused: back to the client with invalid_request, no code, no sign-in', async () => {
      const page = await new OAuthBrowser().authorize(app.url, authParams(app.fixture, pkce().challenge, { code_challenge: undefined, code_challenge_method: undefined }));
      expect(page.redirect).not.toBeNull();
      const back = page.redirect!;
      expect(`${back.origin}${back.pathname}`).toBe(app.fixture.connector.redirectUri);
      expect(back.searchParams.get('error')).toBe('invalid_request');
      expect(back.searchParams.get('state')).toBe('state-123');
      expect(back.searchParams.has('code')).toBe(false);
    });

    it('with code_challenge_method=plain, is refused (S256 only)', async () => {
      const { verifier } = pkce();
      const page = await new OAuthBrowser().authorize(app.url, authParams(app.fixture, verifier, { code_challenge_method: 'plain' }));
      expect(page.redirect).not.toBeNull();
      expect(page.redirect!.searchParams.get('error')).toBe('invalid_request');
      expect(page.redirect!.searchParams.has('code')).toBe(false);
    });

    it('denied on the consent page, returns to the client with error=access_denied and the state, and connects nothing', async () => {
      const before = await connectedApps(app);
      const browser = new OAuthBrowser();
      await browser.authorize(app.url, authParams(app.fixture, pkce().challenge, { state: 'deny-state' }));
      const consentPage = await browser.signIn(app.fixture.user.email, app.fixture.user.password);
      expect(consentPage.body).toContain('wants to access your account');
      const denied = await browser.deny();
      expect(denied.status).toBe(303);
      const back = denied.redirect!;
      expect(`${back.origin}${back.pathname}`).toBe(app.fixture.connector.redirectUri);
      expect(back.searchParams.get('error')).toBe('access_denied');
      expect(back.searchParams.get('state')).toBe('deny-state');
      expect(back.searchParams.get('iss')).toBe(app.url);
      expect(back.searchParams.has('code')).toBe(false);
      expect(await connectedApps(app)).toEqual(before);
    });

    it('completes with code, state and iss in the callback', async () => {
      const c = await connect(app.url, app.fixture);
      expect(`${c.callback.origin}${c.callback.pathname}`).toBe(app.fixture.connector.redirectUri);
      expect(c.callback.searchParams.get('state')).toBe(c.state);
      expect(c.callback.searchParams.get('iss')).toBe(app.url);
      expect(c.code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    });
  });

  describe('discovery and the front door', () => {
    it('serve RFC 8414 metadata and OIDC discovery alike, naming the introspection endpoint and the API scopes', async () => {
      for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
        const metadata = (await (await fetch(`${app.url}${path}`)).json()) as Record<string, unknown>;
        expect(metadata).toMatchObject({
          issuer: app.url,
          introspection_endpoint: `${app.url}/oauth/introspect`,
          revocation_endpoint: `${app.url}/oauth/revoke`,
          code_challenge_methods_supported: ['S256'],
        });
        expect(metadata.scopes_supported).toEqual(expect.arrayContaining(['openid', 'offline_access', 'keys:read', 'leads:read', 'leads:write']));
      }
    });

    it('answer GET / with where everything is: JSON, or a page for a browser', async () => {
      const json = await fetch(`${app.url}/`);
      expect(json.status).toBe(200);
      expect(await json.json()).toMatchObject({ issuer: app.url, introspection_endpoint: `${app.url}/oauth/introspect`, health: { ready: `${app.url}/health/ready` } });
      const page = await fetch(`${app.url}/`, { headers: { accept: 'text/html' } });
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(await page.text()).toContain(`href="${app.url}/.well-known/oauth-authorization-server"`);
    });
  });

  describe('the interaction pages', () => {
    it('refuse a sign-in form without a CSRF token, or with a wrong one, with a 403 error page; the right one works', async () => {
      const browser = new OAuthBrowser();
      const login = await browser.authorize(app.url, authParams(app.fixture, pkce().challenge));
      const { email, password } = app.fixture.user;

      const missing = await browser.submit('login', { email, password }, null);
      expectErrorPage(missing, 403, 'invalid_request');
      await browser.open(login.url); // back to the sign-in page
      const wrong = await browser.submit('login', { email, password }, 'x'.repeat(43));
      expectErrorPage(wrong, 403, 'invalid_request');
      // A valid token of another interaction does not fit this one.
      const other = new OAuthBrowser();
      const otherLogin = await other.authorize(app.url, authParams(app.fixture, pkce().challenge));
      await browser.open(login.url);
      const foreign = await browser.submit('login', { email, password }, csrfOf(otherLogin.body));
      expectErrorPage(foreign, 403, 'invalid_request');

      // None of them signed in: the page still asks for a sign-in, and the real form works.
      const again = await browser.open(login.url);
      expect(again.body).toContain('Sign in to connect');
      const consentPage = await browser.signIn(email, password);
      expect(consentPage.status).toBe(200);
      expect(consentPage.body).toContain('wants to access your account');
    });

    it('refuse a consent form with a wrong CSRF token: 403, no redirect, no grant', async () => {
      const before = await connectedApps(app);
      const browser = new OAuthBrowser();
      await browser.authorize(app.url, authParams(app.fixture, pkce().challenge));
      const consentPage = await browser.signIn(app.fixture.user.email, app.fixture.user.password);
      const forged = await browser.submit('confirm', { org_id: app.fixture.org2 }, null);
      expectErrorPage(forged, 403, 'invalid_request');
      expect(await connectedApps(app)).toEqual(before);
      expect(consentPage.status).toBe(200);
    });

    it('carry CSP frame-ancestors none, no-referrer and no-store, and load nothing from elsewhere (sign-in, consent, error)', async () => {
      const browser = new OAuthBrowser();
      const login = await browser.authorize(app.url, authParams(app.fixture, pkce().challenge));
      expect(login.status).toBe(200);
      expectSafePage(login);
      const failed = await browser.signIn(app.fixture.user.email, 'wrong-password-123');
      expect(failed.status).toBe(401);
      expect(failed.body).toContain('Wrong email or password.');
      expectSafePage(failed);
      const consentPage = await browser.signIn(app.fixture.user.email, app.fixture.user.password);
      expect(consentPage.status).toBe(200);
      expectSafePage(consentPage);
      expectSafePage(await new OAuthBrowser().authorize(app.url, authParams(app.fixture, pkce().challenge, { client_id: 'unknown-client' })));
    });

    it('the form_post page the provider renders itself carries the same headers, its one inline script allowed by hash', async () => {
      const browser = new OAuthBrowser();
      await browser.authorize(app.url, authParams(app.fixture, pkce().challenge, { response_mode: 'form_post' }));
      await browser.signIn(app.fixture.user.email, app.fixture.user.password);
      const page = await browser.consent(app.fixture.org2);
      expect(page.status).toBe(200);
      expect(page.body).toContain(`action="${app.fixture.connector.redirectUri}"`);
      expect(page.body).toMatch(/name="code" value="[A-Za-z0-9_-]{43}"/);
      const csp = page.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("default-src 'none'");
      expect(page.headers.get('x-frame-options')).toBe('DENY');
      expect(page.headers.get('referrer-policy')).toBe('no-referrer');
      expect(page.headers.get('cache-control')).toBe('no-store');
      expect(page.headers.get('x-content-type-options')).toBe('nosniff');
      // The auto-submitting script runs (its hash is allowed), and nothing else could.
      const script = /<script>([\s\S]*?)<\/script>/.exec(page.body)![1]!;
      expect(csp).toContain(`script-src 'sha256-${createHash('sha256').update(script).digest('base64')}'`);
    });

    it('show an error page for an interaction this browser does not hold', async () => {
      const browser = new OAuthBrowser();
      const login = await browser.authorize(app.url, authParams(app.fixture, pkce().challenge));
      const stranger = new OAuthBrowser();
      const page = await stranger.open(login.url);
      expectErrorPage(page, 400, 'invalid_request');
    });
  });

  describe('the token endpoint', () => {
    it('issues an opaque access token (not a JWT) that expires in 3600 s, never cached', async () => {
      const c = await connect(app.url, app.fixture);
      const reply = await exchange(app, c.code, c.verifier);
      expect(reply.status).toBe(200);
      expect(reply.headers.get('cache-control')).toBe('no-store');
      const body = reply.body as { access_token: string; refresh_token: string; expires_in: number; token_type: string };
      expect(body.access_token).not.toContain('.');
      expect(body.access_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(body.refresh_token).not.toContain('.');
      expect(body.expires_in).toBe(3600);
      expect(body.token_type).toBe('Bearer');
      expect((await apiCall(app.url, 'GET', '/api/v1/me', body.access_token)).status).toBe(200);
    });

    it('refuses a wrong or missing code_verifier with invalid_grant', async () => {
      const c = await connect(app.url, app.fixture);
      expectInvalidGrant(await exchange(app, c.code, pkce().verifier));
      const missing = await tokenRequest(app.url, app.fixture.connector, { grant_type: 'authorization_code', code: c.code, redirect_uri: app.fixture.connector.redirectUri });
      expectInvalidGrant(missing);
    });

    it('refuses a code redeemed twice, and revokes the tokens of its first redemption', async () => {
      const c = await connect(app.url, app.fixture);
      const first = await exchange(app, c.code, c.verifier);
      expect(first.status).toBe(200);
      const { access_token: accessToken, refresh_token: refreshToken } = first.body as { access_token: string; refresh_token: string };
      const grantId = await grantOf(app, accessToken);

      expectInvalidGrant(await exchange(app, c.code, c.verifier));
      expectUnauthorized(await apiCall(app.url, 'GET', '/api/v1/me', accessToken));
      expectInvalidGrant(await refresh(app, refreshToken));
      await expectAppGone(app, grantId);
    });

    it('of 20 concurrent redemptions of one code, exactly one gets tokens — and the replayed code ends the grant', async () => {
      // Several rounds: a race that is only sometimes lost must still be caught.
      for (let round = 0; round < 6; round++) {
        const before = await connectedApps(app);
        const c = await connect(app.url, app.fixture);
        const replies = await Promise.all(Array.from({ length: 20 }, () => exchange(app, c.code, c.verifier)));
        const statuses = replies.map((r) => r.status);
        expect({ round, ok: statuses.filter((s) => s === 200).length }).toEqual({ round, ok: 1 });
        expect(replies.filter((r) => r.status !== 200).map((r) => `${r.status} ${String(r.body.error)}`)).toEqual(Array(19).fill('400 invalid_grant'));

        // The code was used more than once (RFC 6749 §4.1.2): no token of its grant may remain
        // usable, and Settings → Connected apps must not keep listing a grant that no longer works.
        const winner = replies.find((r) => r.status === 200)!.body as { access_token: string; refresh_token: string };
        expectUnauthorized(await apiCall(app.url, 'GET', '/api/v1/me', winner.access_token));
        expectInvalidGrant(await refresh(app, winner.refresh_token));
        expect({ round, apps: await connectedApps(app) }).toEqual({ round, apps: before });
      }
    }, 60_000);

    it('an access token revoked at /oauth/revoke is refused at once, even right after it was used', async () => {
      const tokens = await connectAndExchange(app.url, app.fixture);
      expect((await apiCall(app.url, 'GET', '/api/v1/me', tokens.access_token)).status).toBe(200);
      const revoked = await oauthPost(app.url, '/oauth/revoke', app.fixture.connector, { token: tokens.access_token, token_type_hint: 'access_token' });
      expect(revoked.status).toBe(200);
      expectUnauthorized(await apiCall(app.url, 'GET', '/api/v1/me', tokens.access_token));
    });

    it('another client cannot revoke the connector’s tokens: they keep working', async () => {
      const tokens = await connectAndExchange(app.url, app.fixture);
      for (const token of [tokens.refresh_token, tokens.access_token]) {
        const attempt = await oauthPost(app.url, '/oauth/revoke', app.fixture.resourceServer, { token });
        expect([200, 400, 401]).toContain(attempt.status);
      }
      expect((await apiCall(app.url, 'GET', '/api/v1/me', tokens.access_token)).status).toBe(200);
      expect((await refresh(app, tokens.refresh_token)).status).toBe(200);
    });

    it('a disabled client: its access token answers 403 at /api/v1/me, it cannot refresh nor start an authorization', async () => {
      const own = await startOAuthApp(mode, { label: 'oauth-disabled' });
      try {
        const tokens = await connectAndExchange(own.url, own.fixture);
        expect((await apiCall(own.url, 'GET', '/api/v1/me', tokens.access_token)).status).toBe(200);
        // As an operator disables it (the service tells every instance, whose caches drop its tokens).
        expect(await own.tessera.services.clients.setDisabled(own.fixture.connector.id, true)).toMatchObject({ disabled: true });
        expect(await own.tessera.stores.clients.findById(own.fixture.connector.id)).toMatchObject({ disabled: true });

        const me = await apiCall(own.url, 'GET', '/api/v1/me', tokens.access_token);
        expect(me.status).toBe(403);
        expect(me.body).toEqual({ error: { code: 'FORBIDDEN', message: expect.any(String) } });
        const refreshed = await refresh(own, tokens.refresh_token);
        expect(refreshed.status).toBeGreaterThanOrEqual(400);
        expect(refreshed.status).toBeLessThan(500);
        expect(refreshed.body.error).toBe('invalid_client');
        expect(refreshed.body.access_token).toBeUndefined();
        const page = await new OAuthBrowser().authorize(own.url, authParams(own.fixture, pkce().challenge));
        expectErrorPage(page, 400, 'invalid_client');
      } finally {
        await own.close();
      }
    }, 30_000);

    it('a resource server cannot use the authorization endpoint (error page) nor get tokens', async () => {
      const rs = app.fixture.resourceServer;
      const page = await new OAuthBrowser().authorize(app.url, authParams(app.fixture, pkce().challenge, { client_id: rs.id }));
      expect(page.status).toBe(400);
      expect(page.headers.get('location')).toBeNull();
      expect(page.redirect).toBeNull();
      expectSafePage(page);

      const noRedirect = await new OAuthBrowser().authorize(app.url, authParams(app.fixture, pkce().challenge, { client_id: rs.id, redirect_uri: undefined }));
      expect(noRedirect.status).toBe(400);
      expect(noRedirect.headers.get('location')).toBeNull();

      const credentials = await tokenRequest(app.url, rs, { grant_type: 'client_credentials', scope: 'leads:read' });
      expect(credentials.status).toBe(400);
      expect(credentials.body.access_token).toBeUndefined();

      // A connector's code presented by the resource server gets nothing, and is not burnt by it.
      const c = await connect(app.url, app.fixture);
      const stolen = await tokenRequest(app.url, rs, { grant_type: 'authorization_code', code: c.code, redirect_uri: app.fixture.connector.redirectUri, code_verifier: c.verifier });
      expect(stolen.status).toBe(400);
      expect(stolen.body.access_token).toBeUndefined();
      const own = await exchange(app, c.code, c.verifier);
      expect(own.status).toBe(200);
      const stolenRefresh = await tokenRequest(app.url, rs, { grant_type: 'refresh_token', refresh_token: own.body.refresh_token as string });
      expect(stolenRefresh.status).toBe(400);
      expect(stolenRefresh.body.access_token).toBeUndefined();
      expect((await refresh(app, own.body.refresh_token as string)).status).toBe(200);
    });
  });

  describe('refresh token reuse (window of 1 s)', () => {
    let short: OAuthApp;
    beforeAll(async () => {
      short = await startOAuthApp(mode, { env: { TESSERA_REFRESH_REUSE_WINDOW_SECONDS: '1' }, label: 'oauth-reuse' });
    }, 30_000);
    afterAll(async () => {
      await short?.close();
    });

    it('within the window, the same refresh token presented again gets the same successor pair', async () => {
      const tokens = await connectAndExchange(short.url, short.fixture);
      const first = await refresh(short, tokens.refresh_token);
      expect(first.status).toBe(200);
      const again = await refresh(short, tokens.refresh_token);
      expect(again.status).toBe(200);
      expect(again.body.access_token).toBe(first.body.access_token);
      expect(again.body.refresh_token).toBe(first.body.refresh_token);
    });

    it('after the window, reuse is invalid_grant and revokes the whole grant', async () => {
      const tokens = await connectAndExchange(short.url, short.fixture);
      const grantId = await grantOf(short, tokens.access_token);
      const successor = await refresh(short, tokens.refresh_token);
      expect(successor.status).toBe(200);
      const next = successor.body as { access_token: string; refresh_token: string };
      expect(next.refresh_token).not.toBe(tokens.refresh_token);

      await new Promise((r) => setTimeout(r, 1500));
      const reuse = await refresh(short, tokens.refresh_token);
      expectInvalidGrant(reuse);

      // The thief's and the owner's tokens alike: the current access token and the successor refresh token.
      expectUnauthorized(await apiCall(short.url, 'GET', '/api/v1/me', next.access_token));
      expectInvalidGrant(await refresh(short, next.refresh_token));
      await expectAppGone(short, grantId);
    }, 40_000);
  });

  describe('sign-in throttling', () => {
    let strict: OAuthApp;
    beforeAll(async () => {
      strict = await startOAuthApp(mode, { env: { TESSERA_AUTH_FAILURES_PER_MINUTE: '3' }, label: 'oauth-throttle' });
    }, 30_000);
    afterAll(async () => {
      await strict?.close();
    });

    it('after TESSERA_AUTH_FAILURES_PER_MINUTE failures, the sign-in page answers 429, even to the right password', async () => {
      const browser = new OAuthBrowser();
      const login = await browser.authorize(strict.url, authParams(strict.fixture, pkce().challenge));
      expect(login.status).toBe(200);
      for (let i = 1; i <= 3; i++) {
        const failed = await browser.signIn(strict.fixture.user.email, `wrong-password-${i}-xyz`);
        expect({ attempt: i, status: failed.status }).toEqual({ attempt: i, status: 401 });
      }
      const throttled = await browser.signIn(strict.fixture.user.email, strict.fixture.user.password);
      expect(throttled.status).toBe(429);
      expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(throttled.body).toContain('Too many attempts');
      expect(throttled.redirect).toBeNull();
      expectSafePage(throttled);
      // Still on the sign-in page: nobody was signed in.
      expect(throttled.body).toContain('name="password"');
    });
  });

  describe('sign-in throttling per account (password spraying from many addresses)', () => {
    let proxied: OAuthApp;
    beforeAll(async () => {
      proxied = await startOAuthApp(mode, { env: { TESSERA_AUTH_FAILURES_PER_MINUTE: '1000', TESSERA_TRUST_PROXY: 'true' }, label: 'oauth-spray' });
    }, 30_000);
    afterAll(async () => {
      await proxied?.close();
    });

    /** A sign-in as forwarded by the trusted proxy from `address`. */
    async function signInFrom(browser: OAuthBrowser, address: string, password: string): Promise<Landing> {
      const form = { email: proxied.fixture.user.email, password };
      return browser.submit('login', form, undefined, { 'x-forwarded-for': address });
    }

    it('slows an account attacked from many addresses with a growing delay, a short one, with Retry-After', async () => {
      const browser = new OAuthBrowser();
      expect((await browser.authorize(proxied.url, authParams(proxied.fixture, pkce().challenge))).status).toBe(200);
      for (let i = 0; i < 5; i++) expect((await signInFrom(browser, `198.51.100.${i + 1}`, `wrong-${i}-password`)).status).toBe(401);
      // Right password, from an address that never failed: the account waits a second.
      const held = await signInFrom(browser, '198.51.100.77', proxied.fixture.user.password);
      expect({ status: held.status, retryAfter: held.headers.get('retry-after') }).toEqual({ status: 429, retryAfter: '1' });
      expect(held.body).toContain('Too many attempts');
      await new Promise((r) => setTimeout(r, 1_100));
      expect((await signInFrom(browser, '198.51.100.6', 'wrong-again-password')).status).toBe(401);
      const longer = await signInFrom(browser, '198.51.100.78', proxied.fixture.user.password);
      expect({ status: longer.status, retryAfter: longer.headers.get('retry-after') }).toEqual({ status: 429, retryAfter: '2' });
      await new Promise((r) => setTimeout(r, 2_100));
      const signedIn = await signInFrom(browser, '198.51.100.79', proxied.fixture.user.password);
      expect(signedIn.status).toBe(200);
      expect(signedIn.body).toContain('wants to access your account');
    }, 20_000);

    it('treats an unknown email exactly like a known one (no enumeration)', async () => {
      const statuses: Array<[number, string | null]> = [];
      const browser = new OAuthBrowser();
      expect((await browser.authorize(proxied.url, authParams(proxied.fixture, pkce().challenge))).status).toBe(200);
      for (let i = 0; i < 6; i++) {
        const page = await browser.submit('login', { email: 'nobody-here@example.com', password: `guess-${i}-password` }, undefined, { 'x-forwarded-for': `203.0.113.${i + 1}` });
        statuses.push([page.status, page.headers.get('retry-after')]);
      }
      expect(statuses).toEqual([...Array(5).fill([401, null]), [429, '1']]);
    });
  });
});
