/**
 * Tessera's OAuth pages (src/oauth/views/) in a real browser: headless Chromium against a real
 * Tessera process. openid-client plays the connector (it builds the authorization URL, with PKCE
 * S256 and state, and exchanges the code); a person signs in and consents with the keyboard only.
 * Each page is checked with axe-core (WCAG 2.1 A/AA: no serious or critical violation), must log
 * no console error (a CSP violation is one), and is captured at 1280 and 375 px without scrolling
 * sideways.
 *
 * First the embedded demo (`npm start`'s: one organization, the demo connector and its loopback
 * redirect URI http://127.0.0.1:8085/callback), then a seeded user in two organizations, whose
 * consent page is a choice. The redirect URIs are answered by the test's redirect catcher
 * (test/support/redirect-catcher.ts): the seeded connector's is the catcher's own address; the
 * demo's fixed one, which the test must not listen on, reaches the catcher as the browser's proxy.
 */
import { writeFileSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import type { BrowserContextOptions, Page } from 'playwright-core';
import { checkAccessibility, focused, screenshot, tabUntil, useBrowser, waitForFocus } from '../../support/browser.ts';
import { recordSecret } from '../../support/log-capture.ts';
import { apiCall, basicAuthorization, oauthFixture, RESOURCE_SCOPES, type OAuthFixture } from '../../support/oauth-browser.ts';
import { useRedirectCatcher } from '../../support/redirect-catcher.ts';
import { startTessera, type TesseraProcess } from '../../support/tessera-process.ts';

const DEMO_EMAIL = 'demo@tessera.local';
const DEMO_CONNECTOR = 'demo-connector';
const DEMO_REDIRECT_URI = 'http://127.0.0.1:8085/callback';
const TEST_TIMEOUT = 90_000;

/** Set by each describe block's beforeAll: how its tests' contexts reach the redirect URIs. */
let contextOptions: BrowserContextOptions = {};
/** One Chromium for the file; a fresh context (no cookies) for each test. */
const web = useBrowser({ context: () => contextOptions });
/** The file's redirect catcher (see above): where the browser is sent back with the code. */
const catcher = useRedirectCatcher();

/** The connector's side of one authorization: openid-client's URL and what it must keep. */
interface Authorization {
  url: URL;
  verifier: string;
  state: string;
}

async function authorization(config: client.Configuration, redirectUri: string, scope: string): Promise<Authorization> {
  const verifier = recordSecret(client.randomPKCECodeVerifier());
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    state,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  return { url, verifier, state };
}

/**
 * Where the browser was sent back: the request the redirect URI received (with the code), which
 * is also what the address bar shows.
 */
async function landing(page: Page, redirectUri: string): Promise<URL> {
  const received = await catcher.received(`${redirectUri}?`);
  await page.waitForURL((url) => url.href.startsWith(`${redirectUri}?`));
  expect(page.url()).toBe(received.href);
  return received;
}

/** Signs in with the keyboard only: the e-mail field has the focus, Tab to the password, Tab to the button, Enter. */
async function signInWithKeyboard(page: Page, email: string, password: string): Promise<void> {
  await waitForFocus(page, page.getByLabel('Email'), 'the e-mail field (autofocus)');
  await page.keyboard.type(email);
  await page.keyboard.press('Tab');
  expect(await focused(page)).toMatchObject({ tag: 'input', id: 'password' });
  await page.keyboard.type(password);
  await tabUntil(page, (el) => el.tag === 'button' && el.text === 'Sign in', 'the Sign in button', { maxPresses: 3 });
  await page.keyboard.press('Enter');
}

function expectNoSidewaysScrolling(shots: Awaited<ReturnType<typeof screenshot>>): void {
  expect(shots.map((s) => s.width)).toEqual([1280, 375]);
  for (const shot of shots) {
    expect(statSync(shot.file).size).toBeGreaterThan(1_000);
    expect({ width: shot.width, scrollWidth: shot.scrollWidth }).toEqual({ width: shot.width, scrollWidth: shot.width });
  }
}

describe('the OAuth pages in Chromium: the embedded demo (one organization)', () => {
  let tessera: TesseraProcess;
  let config: client.Configuration;
  let password: string;
  let scope: string;

  beforeAll(async () => {
    // npm start's Tessera: development, embedded stores, the demo seeded; its banner (with the
    // credentials) stays in memory, its structured log goes to a scanned file.
    tessera = await startTessera({ NODE_ENV: 'development' }, 'browser-oauth-demo', 'memory');
    const banner = tessera.output();
    password = recordSecret(/with password (\S+)/.exec(banner)?.[1] ?? '');
    const secret = recordSecret(/CONNECTOR_SECRET=(\S+)/.exec(banner)?.[1] ?? '');
    if (!password || !secret) throw new Error(`no demo credentials in the banner:\n${banner}`);
    for (const name of ['KEY', 'RS_SECRET', 'VERIFIER']) recordSecret(new RegExp(`${name}=(\\S+)`).exec(banner)?.[1] ?? '');
    // The authorization URL the banner prints asks for the demo connector's scopes: the same here.
    scope = new URL(/(http:\/\/\S+\/oauth\/auth\?\S+)/.exec(banner)![1]!).searchParams.get('scope')!;
    config = await client.discovery(new URL(tessera.url), DEMO_CONNECTOR, secret, client.ClientSecretBasic(secret), { execute: [client.allowInsecureRequests] });
    basicAuthorization({ id: DEMO_CONNECTOR, secret });
    // Tessera directly; anything else (the demo's 127.0.0.1:8085) through the catcher.
    contextOptions = catcher.proxyFor([tessera.url]);
  }, 60_000);

  afterAll(async () => {
    await tessera?.stop();
  });

  it(
    'the sign-in page renders, has no serious accessibility violation, logs no console error, and fits 1280 and 375 px',
    async () => {
      const { page } = web;
      const { url } = await authorization(config, DEMO_REDIRECT_URI, scope);
      const response = await page.goto(url.href);
      expect(response?.status()).toBe(200);
      expect(new URL(page.url()).pathname).toMatch(/^\/interaction\/[^/]+$/);
      await expect(page.title()).resolves.toBe('Sign in · Tessera');
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign in to connect Demo Connector');
      expect(await page.getByLabel('Email').isVisible()).toBe(true);
      expect(await page.getByLabel('Password').getAttribute('type')).toBe('password');
      // The page's policy: nothing loaded from anywhere, its own style by nonce, no framing.
      expect(response?.headers()['content-security-policy']).toMatch(/^default-src 'none'; style-src 'nonce-[^']+'/);

      await checkAccessibility(page, 'the sign-in page');
      expectNoSidewaysScrolling(await screenshot(page, 'oauth-sign-in'));
      web.problems.expectNone('the sign-in page');
    },
    TEST_TIMEOUT,
  );

  it(
    'signs in and consents with the keyboard only; the browser lands on the redirect URI with a code that openid-client exchanges',
    async () => {
      const { page } = web;
      const { url, verifier, state } = await authorization(config, DEMO_REDIRECT_URI, scope);
      await page.goto(url.href);

      await signInWithKeyboard(page, DEMO_EMAIL, password);
      await page.getByRole('heading', { name: 'Demo Connector wants to access your account' }).waitFor();
      expect(await page.getByText(`Signed in as ${DEMO_EMAIL}`).isVisible()).toBe(true);
      expect(await page.getByText('Organization: Demo Organization').isVisible()).toBe(true);
      await checkAccessibility(page, 'the consent page (one organization)');
      expectNoSidewaysScrolling(await screenshot(page, 'oauth-consent-one-organization'));

      await tabUntil(page, (el) => el.tag === 'button' && el.text === 'Allow', 'the Allow button');
      await page.keyboard.press('Enter');
      const callback = await landing(page, DEMO_REDIRECT_URI);
      expect(callback.searchParams.get('state')).toBe(state);
      expect(callback.searchParams.get('iss')).toBe(tessera.url);

      const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
      recordSecret(tokens.access_token);
      if (tokens.refresh_token) recordSecret(tokens.refresh_token);
      expect(tokens.token_type.toLowerCase()).toBe('bearer');
      expect(tokens.refresh_token).toEqual(expect.any(String));
      const me = await apiCall(tessera.url, 'GET', '/api/v1/me', tokens.access_token);
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ kind: 'oauth', org_id: 'org_demo', client_id: DEMO_CONNECTOR });
    },
    TEST_TIMEOUT,
  );

  it(
    'starts each test with a fresh context: no cookie of the previous sign-in, so the sign-in page again',
    async () => {
      const { page, context } = web;
      expect(await context.cookies()).toEqual([]);
      const { url } = await authorization(config, DEMO_REDIRECT_URI, scope);
      await page.goto(url.href);
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign in to connect Demo Connector');
    },
    TEST_TIMEOUT,
  );

  it(
    'a wrong password: the page says so as an alert, keeps the e-mail, and stays accessible',
    async () => {
      const { page } = web;
      const { url } = await authorization(config, DEMO_REDIRECT_URI, scope);
      await page.goto(url.href);
      await signInWithKeyboard(page, DEMO_EMAIL, 'not-the-password');
      const alert = page.getByRole('alert');
      await alert.waitFor();
      expect(await alert.textContent()).toMatch(/\S/);
      expect(await page.getByLabel('Email').inputValue()).toBe(DEMO_EMAIL);
      await checkAccessibility(page, 'the sign-in page with an error');
      expectNoSidewaysScrolling(await screenshot(page, 'oauth-sign-in-error'));
    },
    TEST_TIMEOUT,
  );

  it(
    'an unknown client: the error page, sent nowhere, accessible',
    async () => {
      const { page } = web;
      const url = new URL('/oauth/auth', tessera.url);
      url.search = new URLSearchParams({ client_id: 'no-such-connector', response_type: 'code', redirect_uri: DEMO_REDIRECT_URI, scope: 'openid' }).toString();
      const response = await page.goto(url.href);
      expect(response?.status()).toBe(400);
      expect(new URL(page.url()).origin).toBe(tessera.url);
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('This connection cannot continue');
      await checkAccessibility(page, 'the error page');
      expectNoSidewaysScrolling(await screenshot(page, 'oauth-error'));
    },
    TEST_TIMEOUT,
  );
});

describe('the OAuth pages in Chromium: a user in two organizations chooses one', () => {
  let fixture: OAuthFixture;
  let tessera: TesseraProcess;
  let config: client.Configuration;

  beforeAll(async () => {
    fixture = oauthFixture();
    // The connector's redirect URI is the catcher's own address: no proxy needed.
    fixture.connector.redirectUri = `${catcher.origin}/callback`;
    (fixture.seed.clients as Array<{ redirect_uris: string[] }>)[0]!.redirect_uris = [fixture.connector.redirectUri];
    contextOptions = {};
    const seedFile = join(mkdtempSync(join(tmpdir(), 'tessera-browser-')), 'seed.json');
    writeFileSync(seedFile, JSON.stringify(fixture.seed));
    tessera = await startTessera({ TESSERA_SEED: seedFile, TESSERA_SCOPES: RESOURCE_SCOPES }, 'browser-oauth-seeded');
    const { id, secret } = fixture.connector;
    config = await client.discovery(new URL(tessera.url), id, secret, client.ClientSecretBasic(secret), { execute: [client.allowInsecureRequests] });
    basicAuthorization(fixture.connector);
  }, 60_000);

  afterAll(async () => {
    await tessera?.stop();
  });

  it(
    'the consent page offers both organizations as radio choices; the keyboard picks the second and allows',
    async () => {
      const { page } = web;
      const { url, verifier, state } = await authorization(config, fixture.connector.redirectUri, 'leads:read apps:read offline_access');
      await page.goto(url.href);
      await signInWithKeyboard(page, fixture.user.email, fixture.user.password);

      await page.getByRole('heading', { name: 'Zapier wants to access your account' }).waitFor();
      const group = page.getByRole('group', { name: 'Choose the organization Zapier will act in' });
      expect(await group.getByRole('radio').count()).toBe(2);
      // Neither is chosen for the user.
      expect(await group.getByRole('radio', { checked: true }).count()).toBe(0);
      await checkAccessibility(page, 'the consent page (two organizations)');
      expectNoSidewaysScrolling(await screenshot(page, 'oauth-consent-two-organizations'));

      // Tab into the group (its first choice has the focus), Space chooses it, the arrows move
      // the choice; then Tab to Allow.
      await tabUntil(page, (el) => el.tag === 'input' && el.type === 'radio', 'the organization choices');
      await page.keyboard.press('Space');
      const checked = () => group.locator('input[type=radio]:checked').getAttribute('value');
      for (let presses = 0; (await checked()) !== fixture.org2 && presses < 2; presses++) await page.keyboard.press('ArrowDown');
      expect(await checked()).toBe(fixture.org2);
      expect(await page.getByRole('radio', { name: /^Globex/ }).isChecked()).toBe(true);
      await tabUntil(page, (el) => el.tag === 'button' && el.text === 'Allow', 'the Allow button');
      await page.keyboard.press('Enter');

      const callback = await landing(page, fixture.connector.redirectUri);
      const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
      recordSecret(tokens.access_token);
      if (tokens.refresh_token) recordSecret(tokens.refresh_token);
      const me = await apiCall(tessera.url, 'GET', '/api/v1/me', tokens.access_token);
      expect(me.body).toMatchObject({ kind: 'oauth', org_id: fixture.org2, id: fixture.user.id });
    },
    TEST_TIMEOUT,
  );
});
