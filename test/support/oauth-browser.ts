/**
 * A tiny "browser" for Tessera's authorization pages: fetch with redirect:'manual' and a cookie
 * jar, following redirects while they stay on Tessera and stopping at the first one that leaves
 * it (the redirect to the connector's redirect_uri, with a code or an error). The helpers fill
 * the real forms of the real pages (their CSRF token included): authorize → signIn → consent.
 *
 * Also, for the OAuth suites: PKCE pairs, token endpoint calls with client_secret_basic, a seed
 * fixture (a user in two organizations, a connector and a resource server) and an in-process
 * Tessera listening on the port its issuer names. Every secret used goes through recordSecret.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import mongoose from 'mongoose';
import { createTessera, type Tessera } from '../../src/app.ts';
import { DEFAULT_KEY_FORMAT, generateKey } from '../../src/domain/api-key-format.ts';
import type { Clock } from '../../src/ports.ts';
import { freePort } from './free-port.ts';
import { recordSecret } from './log-capture.ts';
import { testConfig, testLogger } from './test-config.ts';
import { mongoUriFor, redisUrl, uniqueName } from './unique.ts';

// ---------------------------------------------------------------------------------------------
// The browser

export interface Landing {
  /** Status of the last response Tessera gave. */
  status: number;
  /** URL of the last request made to Tessera. */
  url: URL;
  headers: Headers;
  /** Body of the last response (an HTML page, or empty for a redirect). */
  body: string;
  /** Where the flow left Tessera (the connector's redirect_uri with code or error), else null. */
  redirect: URL | null;
}

interface Cookie {
  name: string;
  value: string;
  path: string;
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const MAX_HOPS = 10;

export class OAuthBrowser {
  private readonly jar: Cookie[] = [];
  private origin: string | null = null;
  /** The last page shown by Tessera (what the next form is filled on). */
  page: Landing | null = null;

  /** GET /oauth/auth with `params` and follow Tessera's redirects (to the sign-in page, usually). */
  async authorize(baseUrl: string, params: Record<string, string>): Promise<Landing> {
    const url = new URL('/oauth/auth', baseUrl);
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
    return this.open(url);
  }

  /** Opens any URL (an authorization URL built by a client library, for one). */
  async open(url: URL | string): Promise<Landing> {
    const target = new URL(url);
    this.origin ??= target.origin;
    return this.navigate(target, { method: 'GET' });
  }

  /** Fills the sign-in form of the current page and submits it. */
  async signIn(email: string, password: string): Promise<Landing> {
    return this.submit('login', { email, password: recordSecret(password) });
  }

  /** Allows on the consent page, for the organization `orgId` (a choice of the <select> or the only one). */
  async consent(orgId: string): Promise<Landing> {
    const page = this.current();
    const offered = optionValues(page.body);
    if (!offered.includes(orgId)) throw new Error(`the consent page does not offer organization ${orgId} (offers ${offered.join(', ') || 'none'})`);
    return this.submit('confirm', { org_id: orgId });
  }

  /** Denies on the consent page (or cancels on the sign-in page). */
  async deny(): Promise<Landing> {
    return this.submit('abort', {});
  }

  /**
   * Posts a form of the current interaction (`login`, `confirm` or `abort`). The CSRF token is the
   * page's unless `csrf` says otherwise (null: none at all).
   */
  async submit(action: string, fields: Record<string, string>, csrf?: string | null, headers: Record<string, string> = {}): Promise<Landing> {
    const page = this.current();
    const token = csrf === undefined ? csrfOf(page.body) : csrf;
    const form = new URLSearchParams(token === null ? fields : { csrf: token, ...fields });
    if (fields.password) recordSecret(fields.password);
    return this.navigate(new URL(`/interaction/${this.interactionUid()}/${action}`, page.url), { method: 'POST', headers: { ...FORM, ...headers }, body: form.toString() });
  }

  /** The uid of the interaction whose page is shown. */
  interactionUid(): string {
    const match = /^\/interaction\/([^/]+)/.exec(this.current().url.pathname);
    if (!match) throw new Error(`not on an interaction page: ${this.current().url.pathname}`);
    return match[1]!;
  }

  /** Cookies the jar holds (names only): for assertions about what the browser keeps. */
  cookieNames(): string[] {
    return this.jar.map((c) => c.name);
  }

  private current(): Landing {
    if (!this.page) throw new Error('no page is shown: call authorize() first');
    return this.page;
  }

  private async navigate(start: URL, init: RequestInit): Promise<Landing> {
    let url = start;
    let request = init;
    for (let hop = 0; hop < MAX_HOPS; hop++) {
      const res = await this.fetch(url, request);
      const body = await res.text();
      const location = res.headers.get('location');
      const landing: Landing = { status: res.status, url, headers: res.headers, body, redirect: null };
      if (res.status >= 300 && res.status < 400 && location !== null) {
        const next = new URL(location, url);
        if (next.origin !== this.origin) {
          landing.redirect = next;
          const code = next.searchParams.get('code');
          if (code) recordSecret(code);
          this.page = landing;
          return landing;
        }
        url = next;
        request = { method: 'GET' };
        continue;
      }
      this.page = landing;
      return landing;
    }
    throw new Error(`more than ${MAX_HOPS} redirects from ${start.href}`);
  }

  private async fetch(url: URL, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookies = this.jar.filter((c) => pathMatches(url.pathname, c.path));
    if (cookies.length > 0) headers.set('cookie', cookies.map((c) => `${c.name}=${c.value}`).join('; '));
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) this.store(line, url);
    return res;
  }

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

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

/** The CSRF token of a page's forms. */
export function csrfOf(html: string): string {
  const match = /name="csrf" value="([^"]+)"/.exec(html);
  if (!match) throw new Error(`no CSRF field on the page:\n${html.slice(0, 500)}`);
  return match[1]!;
}

/** The organization choices of a consent page: its radio choices, or the single hidden org_id. */
export function optionValues(html: string): string[] {
  const options = [...html.matchAll(/<input type="radio" name="org_id" value="([^"]+)"/g)].map((m) => m[1]!);
  if (options.length > 0) return options;
  const hidden = /<input type="hidden" name="org_id" value="([^"]+)">/.exec(html);
  return hidden ? [hidden[1]!] : [];
}

// ---------------------------------------------------------------------------------------------
// PKCE and the token endpoint

export interface Pkce {
  verifier: string;
  challenge: string;
}

export function pkce(): Pkce {
  const verifier = recordSecret(randomBytes(32).toString('base64url'));
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export interface ClientCredentials {
  id: string;
  secret: string;
}

export interface TokenReply {
  status: number;
  headers: Headers;
  text: string;
  body: Record<string, unknown>;
}

/** The Authorization value of client_secret_basic (RFC 6749 §2.3.1: both parts form-encoded). */
export function basicAuthorization(client: ClientCredentials): string {
  const encode = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return recordSecret(`Basic ${Buffer.from(`${encode(client.id)}:${encode(client.secret)}`).toString('base64')}`);
}

/** POST to an OAuth endpoint (token, revoke) with client_secret_basic; tokens in the answer are recorded. */
export async function oauthPost(baseUrl: string, path: string, client: ClientCredentials, params: Record<string, string>): Promise<TokenReply> {
  for (const name of ['code', 'refresh_token', 'token', 'code_verifier']) if (params[name]) recordSecret(params[name]);
  const res = await fetch(new URL(path, baseUrl), {
    method: 'POST',
    headers: { ...FORM, authorization: basicAuthorization(client) },
    body: new URLSearchParams(params).toString(),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    body = {};
  }
  for (const name of ['access_token', 'refresh_token', 'id_token']) if (typeof body[name] === 'string') recordSecret(body[name]);
  return { status: res.status, headers: res.headers, text, body };
}

export function tokenRequest(baseUrl: string, client: ClientCredentials, params: Record<string, string>): Promise<TokenReply> {
  return oauthPost(baseUrl, '/oauth/token', client, params);
}

export interface ApiReply<B = unknown> {
  status: number;
  headers: Headers;
  text: string;
  body: B;
}

/** A call to Tessera's API with a bearer (recorded for the leak scan), and a JSON body when given. */
export async function apiCall<B = unknown>(baseUrl: string, method: string, path: string, bearer: string, json?: unknown): Promise<ApiReply<B>> {
  const res = await fetch(new URL(path, baseUrl), {
    method,
    headers: { authorization: recordSecret(`Bearer ${recordSecret(bearer)}`), ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(json === undefined ? {} : { body: JSON.stringify(json) }),
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, text, body: body as B };
}

// ---------------------------------------------------------------------------------------------
// The fixture: one user in two organizations, a connector and a resource server

export const REDIRECT_URI = 'https://zapier.example/oauth/return/App1/';
export const CONNECTOR_SCOPES = ['leads:read', 'leads:write', 'keys:read', 'apps:read', 'apps:write'];
export const RESOURCE_SCOPES = 'leads:read leads:write';
export const UNAUTHORIZED_BODY = '{"error":{"code":"UNAUTHORIZED","message":"Invalid or missing API key"}}';

export interface OAuthFixture {
  user: { id: string; email: string; password: string };
  /** The user is owner of org1 and editor of org2. */
  org1: string;
  org2: string;
  connector: ClientCredentials & { redirectUri: string };
  resourceServer: ClientCredentials;
  /** An API key of the user in each organization (seeded in plaintext), for looking at connected apps. */
  keys: { org1: string; org2: string };
  seed: Record<string, unknown>;
}

function secret(prefix: string): string {
  return recordSecret(`${prefix}${randomBytes(32).toString('base64url')}`);
}

/** A key of Tessera's default format, made by Tessera's own generator. */
function liveKey(): string {
  return recordSecret(generateKey(DEFAULT_KEY_FORMAT, 'live').key);
}

export function oauthFixture(): OAuthFixture {
  const tag = randomBytes(4).toString('hex');
  const user = { id: `u_${tag}`, email: `connector-user-${tag}@example.com`, password: recordSecret(`pw-${randomBytes(12).toString('base64url')}`) };
  const org1 = `o_acme_${tag}`;
  const org2 = `o_globex_${tag}`;
  const connector = { id: `zapier_${tag}`, secret: secret('zs_'), redirectUri: REDIRECT_URI };
  const resourceServer = { id: `leads_api_${tag}`, secret: secret('rs_') };
  const keys = { org1: liveKey(), org2: liveKey() };
  const seed = {
    users: [{ id: user.id, email: user.email, password: user.password, name: 'Connector User' }],
    organizations: [
      { id: org1, name: 'Acme' },
      { id: org2, name: 'Globex' },
    ],
    memberships: [
      { user: user.id, org: org1, role: 'owner' },
      { user: user.id, org: org2, role: 'editor' },
    ],
    clients: [
      { client_id: connector.id, client_secret: connector.secret, name: 'Zapier', redirect_uris: [REDIRECT_URI], scopes: CONNECTOR_SCOPES },
      { client_id: resourceServer.id, client_secret: resourceServer.secret, name: 'Leads API', type: 'resource_server' },
    ],
    api_keys: [
      { key: keys.org1, user: user.id, org: org1, name: 'apps-org1', scopes: ['apps:read', 'apps:write'] },
      { key: keys.org2, user: user.id, org: org2, name: 'apps-org2', scopes: ['apps:read', 'apps:write'] },
    ],
  };
  return { user, org1, org2, connector, resourceServer, keys, seed };
}

// ---------------------------------------------------------------------------------------------
// Tessera in this process, on the port its issuer names

export type OAuthStoreMode = 'memory' | 'external';

export interface OAuthApp {
  url: string;
  tessera: Tessera;
  fixture: OAuthFixture;
  close(): Promise<void>;
}

export interface OAuthAppOptions {
  env?: Record<string, string>;
  /**
   * A second instance of this app: the same issuer, stores, Redis prefix and fixture (not seeded
   * again), on a port of its own — as replicas behind one load balancer.
   */
  replicaOf?: OAuthApp;
  /** MongoDB and Redis of the suite's own (servers it may kill); default: the shared ones. */
  mongodbUri?: string;
  redisUrl?: string;
  clock?: Clock;
  label?: string;
}

export async function startOAuthApp(mode: OAuthStoreMode, options: OAuthAppOptions = {}): Promise<OAuthApp> {
  const port = await freePort();
  const primary = options.replicaOf;
  const url = `http://127.0.0.1:${port}`;
  const database = uniqueName('oauth');
  const mongodbUri = options.mongodbUri ? `${options.mongodbUri.replace(/\/$/, '')}/${database}` : undefined;
  const storeEnv: Record<string, string> = primary
    ? { MONGODB_URI: primary.tessera.config.mongodbUri!, REDIS_URL: primary.tessera.config.redisUrl!, TESSERA_REDIS_PREFIX: primary.tessera.config.redisKeyPrefix }
    : mode === 'external'
      ? { MONGODB_URI: mongodbUri ?? mongoUriFor(database), REDIS_URL: options.redisUrl ?? redisUrl(), TESSERA_REDIS_PREFIX: `${database}:` }
      : {};
  const config = testConfig(
    { BASE_URL: primary?.url ?? url, TESSERA_SCOPES: RESOURCE_SCOPES, TESSERA_AUTH_FAILURES_PER_MINUTE: '1000', ...storeEnv, ...options.env },
    `${options.label ?? 'oauth'}-${mode}`,
  );
  const tessera = await createTessera(config, { logger: testLogger(config), ...(options.clock ? { clock: options.clock } : {}) });
  const fixture = primary?.fixture ?? oauthFixture();
  if (!primary) await tessera.services.seedImporter.import(fixture.seed);
  const server: Server = createServer(tessera.handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    url,
    tessera,
    fixture,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await tessera.close();
      // A suite's own server is thrown away with its data; on the shared one, drop the database
      // (a replica leaves it to its primary).
      if (mode === 'external' && !options.mongodbUri && !primary) {
        const connection = await mongoose.createConnection(storeEnv.MONGODB_URI!).asPromise();
        await connection.dropDatabase();
        await connection.close();
      }
    },
  };
}

export interface CodeGrant {
  code: string;
  verifier: string;
  state: string;
  callback: URL;
}

export interface SignedIn {
  browser: OAuthBrowser;
  verifier: string;
  state: string;
  /** The page after sign-in: consent, usually. */
  page: Landing;
}

/** An authorization request with PKCE and a state, then the sign-in form filled: the page after it. */
export async function authorizeAndSignIn(
  baseUrl: string,
  client: { id: string; redirectUri: string },
  user: { email: string; password: string },
  scope: string,
  browser = new OAuthBrowser(),
): Promise<SignedIn> {
  const { verifier, challenge } = pkce();
  const state = randomBytes(12).toString('base64url');
  const start = await browser.authorize(baseUrl, {
    client_id: client.id,
    response_type: 'code',
    redirect_uri: client.redirectUri,
    scope,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  if (start.status !== 200) throw new Error(`authorization answered ${start.status}: ${start.body.slice(0, 300)}`);
  const page = await browser.signIn(user.email, user.password);
  if (page.status !== 200) throw new Error(`sign-in answered ${page.status}: ${page.body.slice(0, 300)}`);
  return { browser, verifier, state, page };
}

/** Authorizes, signs in and consents through the pages; returns the code of the callback. */
export async function connect(
  baseUrl: string,
  fixture: OAuthFixture,
  options: { orgId?: string; scope?: string; browser?: OAuthBrowser } = {},
): Promise<CodeGrant> {
  const scope = options.scope ?? 'leads:read apps:read apps:write offline_access';
  const { browser, verifier, state } = await authorizeAndSignIn(baseUrl, fixture.connector, fixture.user, scope, options.browser);
  const done = await browser.consent(options.orgId ?? fixture.org2);
  const code = done.redirect?.searchParams.get('code');
  if (!done.redirect || !code) throw new Error(`consent did not redirect with a code: ${done.status} ${done.redirect?.href ?? done.body.slice(0, 300)}`);
  return { code, verifier, state, callback: done.redirect };
}

/** A full connection and its code exchanged: the token response's body. */
export async function connectAndExchange(
  baseUrl: string,
  fixture: OAuthFixture,
  options: { orgId?: string; scope?: string } = {},
): Promise<{ access_token: string; refresh_token: string } & Record<string, unknown>> {
  const c = await connect(baseUrl, fixture, options);
  const reply = await tokenRequest(baseUrl, fixture.connector, {
    grant_type: 'authorization_code',
    code: c.code,
    redirect_uri: fixture.connector.redirectUri,
    code_verifier: c.verifier,
  });
  if (reply.status !== 200) throw new Error(`code exchange answered ${reply.status}: ${reply.text}`);
  return reply.body as { access_token: string; refresh_token: string };
}
