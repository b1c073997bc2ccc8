/**
 * Authorization codes minted the way a user makes them: Tessera's real authorization endpoint,
 * sign-in page and consent page over HTTP, driven by the tests' OAuthBrowser
 * (test/support/oauth-browser.ts: a cookie jar that follows Tessera's redirects and stops at the
 * connector's redirect_uri), with PKCE (S256) and a state.
 *
 * A browser signs in once (one argon2id verification); each further code is an authorization
 * request on its session — GET /oauth/auth, the consent page, POST confirm (the grant and its
 * connected app are recorded there), the resume — four requests. The token cases make their
 * templates this way (bench/lib/token-cases.ts), and copy them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { OAuthBrowser } from '../../test/support/oauth-browser.ts';
import type { TokenFixture } from './token-fixture.ts';

export { OAuthBrowser };

export interface MintedCode {
  code: string;
  verifier: string;
}

/** One code: authorize, sign in when the page asks (the browser's first flow), consent, follow to the callback. */
export async function mintCode(browser: OAuthBrowser, baseUrl: string, fixture: TokenFixture): Promise<MintedCode> {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(12).toString('base64url');
  let page = await browser.authorize(baseUrl, {
    client_id: fixture.connector.id,
    response_type: 'code',
    redirect_uri: fixture.connector.redirectUri,
    scope: fixture.scope,
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  });
  if (page.status === 200 && page.body.includes('name="password"')) page = await browser.signIn(fixture.user.email, fixture.user.password);
  if (page.status !== 200) throw new Error(`the consent page answered HTTP ${page.status}: ${page.body.slice(0, 300)}`);
  const done = await browser.consent(fixture.orgId);
  const code = done.redirect?.searchParams.get('code');
  if (!code || done.redirect?.searchParams.get('state') !== state) {
    throw new Error(`consent did not redirect with a code and the state: HTTP ${done.status} ${done.redirect?.href ?? done.body.slice(0, 300)}`);
  }
  return { code, verifier };
}

/** The token request body that redeems a code (the connector's client_secret_basic goes in the header). */
export function codeExchangeBody(code: MintedCode, fixture: TokenFixture): string {
  return new URLSearchParams({ grant_type: 'authorization_code', code: code.code, redirect_uri: fixture.connector.redirectUri, code_verifier: code.verifier }).toString();
}
