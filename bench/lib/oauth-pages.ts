/**
 * Authorization codes minted the way a user makes them: Tessera's real authorization endpoint,
 * sign-in page and consent page over HTTP (as test/support/oauth-browser.ts's authorizeAndSignIn
 * and connect do), with PKCE (S256) and a state. A browser is a cookie jar that follows
 * redirects while they stay on Tessera and stops at the one to the connector's redirect_uri.
 *
 * A browser signs in once (one argon2id verification); each further code is an authorization
 * request on its session — GET /oauth/auth, the consent page, POST confirm (the grant and its
 * connected app are recorded there), the resume — four requests. The token cases make their
 * templates this way (bench/lib/token-cases.ts), and copy them.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { TokenFixture } from './token-fixture.ts';

export interface MintedCode {
  code: string;
  verifier: string;
}

interface Cookie {
  name: string;
  value: string;
  path: string;
}

interface Page {
  status: number;
  url: URL;
  body: string;
  /** Where the flow left Tessera (the redirect_uri with the code), else null. */
  redirect: URL | null;
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

export class PageBrowser {
  private readonly origin: string;
  private readonly jar: Cookie[] = [];

  constructor(baseUrl: string) {
    this.origin = new URL(baseUrl).origin;
  }

  get(url: URL): Promise<Page> {
    return this.navigate(url, { method: 'GET' });
  }

  post(url: URL, fields: Record<string, string>): Promise<Page> {
    return this.navigate(url, { method: 'POST', headers: FORM, body: new URLSearchParams(fields).toString() });
  }

  private async navigate(start: URL, init: RequestInit): Promise<Page> {
    let url = start;
    let request = init;
    for (let hop = 0; hop < 10; hop++) {
      const res = await this.fetch(url, request);
      const body = await res.text();
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location !== null) {
        const next = new URL(location, url);
        if (next.origin !== this.origin) return { status: res.status, url, body, redirect: next };
        url = next;
        request = { method: 'GET' };
        continue;
      }
      return { status: res.status, url, body, redirect: null };
    }
    throw new Error(`more than 10 redirects from ${start.href}`);
  }

  private async fetch(url: URL, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookies = this.jar.filter((c) => url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`));
    if (cookies.length > 0) headers.set('cookie', cookies.map((c) => `${c.name}=${c.value}`).join('; '));
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) this.store(line, url);
    return res;
  }

  /** Keeps a Set-Cookie by name and path; an expired or emptied one is dropped (the jar stays small). */
  private store(line: string, url: URL): void {
    const [pair, ...attributes] = line.split(';').map((part) => part.trim());
    const eq = pair!.indexOf('=');
    const name = pair!.slice(0, eq);
    const value = pair!.slice(eq + 1);
    let path = url.pathname.replace(/\/[^/]*$/, '') || '/';
    let expired = value === '';
    for (const attribute of attributes) {
      const [key, val = ''] = attribute.split('=');
      const lower = key!.toLowerCase();
      if (lower === 'path') path = val;
      if (lower === 'max-age' && Number(val) <= 0) expired = true;
      if (lower === 'expires' && Date.parse(val) <= Date.now()) expired = true;
    }
    const at = this.jar.findIndex((c) => c.name === name && c.path === path);
    if (at >= 0) this.jar.splice(at, 1);
    if (!expired) this.jar.push({ name, value, path });
  }
}

function csrfOf(html: string): string {
  const match = /name="csrf" value="([^"]+)"/.exec(html);
  if (!match) throw new Error(`no CSRF field on the page:\n${html.slice(0, 500)}`);
  return match[1]!;
}

function interactionPath(page: Page): string {
  const match = /^\/interaction\/[^/]+/.exec(page.url.pathname);
  if (!match) throw new Error(`not on an interaction page (HTTP ${page.status} at ${page.url.pathname}): ${page.body.slice(0, 300)}`);
  return match[0];
}

/** One code: authorize, sign in when the page asks (the browser's first flow), consent, follow to the callback. */
export async function mintCode(browser: PageBrowser, baseUrl: string, fixture: TokenFixture): Promise<MintedCode> {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(12).toString('base64url');
  const authorize = new URL('/oauth/auth', baseUrl);
  for (const [name, value] of Object.entries({
    client_id: fixture.connector.id,
    response_type: 'code',
    redirect_uri: fixture.connector.redirectUri,
    scope: fixture.scope,
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  })) {
    authorize.searchParams.set(name, value);
  }
  let page = await browser.get(authorize);
  if (page.status === 200 && page.body.includes('name="password"')) {
    page = await browser.post(new URL(`${interactionPath(page)}/login`, baseUrl), { csrf: csrfOf(page.body), email: fixture.user.email, password: fixture.user.password });
  }
  if (page.status !== 200) throw new Error(`the consent page answered HTTP ${page.status}: ${page.body.slice(0, 300)}`);
  const done = await browser.post(new URL(`${interactionPath(page)}/confirm`, baseUrl), { csrf: csrfOf(page.body), org_id: fixture.orgId });
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
