/**
 * The console (src/http/console/) in a real browser: headless Chromium against real Tessera
 * processes, once on the embedded stores and once on MongoDB (FerretDB here) + Redis. What
 * test/suites/console.suite.ts checks at the HTTP level, done here as a person does it — with the
 * page's own forms, links, script (the copy button, the organization switcher) and cookies — and
 * every page visited checked with axe-core (WCAG 2.1 A/AA: no serious or critical violation),
 * logging no console error (a CSP violation is one), and not scrolling sideways at 375 px.
 *
 * The parties. Embedded: the development demo, as `npm start` makes it (its owner's password and
 * credentials read from the banner's `export …` line), for what its owner does; and a second
 * embedded Tessera from a seed file for what needs other members (an admin, an editor, a viewer),
 * which the demo has not. External: one Tessera on MongoDB + Redis from the same seed file, which
 * makes the demo's parties again (demo@tessera.local owning org_demo, the connector
 * `demo-connector` with its loopback redirect URI, the resource server) and the other members.
 * The connector's redirect URI (http://127.0.0.1:8085/callback) is answered by the test's redirect
 * catcher as the browser's proxy (test/support/redirect-catcher.ts), which also serves the
 * "other site" of the cross-site form.
 *
 * Screenshots: every console page at 1280 and 375 px into the run's screenshot directory
 * (test-logs/screenshots, or TESSERA_SCREENSHOT_DIR), named console-<mode>-<page>-<width>.png.
 * The committed set (docs/screenshots/<page>-<width>.png: sign-in, api-keys, key-created, key-page,
 * connected-apps, audit-log, from the embedded demo, the new key masked) is written only when asked:
 *
 *   TESSERA_SCREENSHOT_DIR=docs/screenshots bash scripts/with-node.sh --jest test/e2e/browser/console.test.ts
 *   (or TESSERA_DOCS_SCREENSHOTS=1 …; either way the other screenshots still go to test-logs/)
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mongoose from 'mongoose';
import * as client from 'openid-client';
import type { BrowserContext, BrowserContextOptions, Locator, Page, Response as PageResponse } from 'playwright-core';
import { DEFAULT_KEY_FORMAT, generateKey } from '../../../src/domain/api-key-format.ts';
import { BUILTIN_SCOPES } from '../../../src/domain/scopes.ts';
import { checkAccessibility, copyToClipboard, focused, newContext, screenshot, tabUntil, useBrowser, watchProblems, type Screenshot } from '../../support/browser.ts';
import { recordSecret, testLogDir } from '../../support/log-capture.ts';
import { apiCall, authorizeAndSignIn, basicAuthorization, tokenRequest } from '../../support/oauth-browser.ts';
import { useRedirectCatcher } from '../../support/redirect-catcher.ts';
import { startTessera, waitUntilReady, type TesseraProcess } from '../../support/tessera-process.ts';
import { mongoUriFor, redisUrl, uniqueName } from '../../support/unique.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const TEST_TIMEOUT = 150_000;
const SETUP_TIMEOUT = 120_000;
/** Usage is written every 200 ms (the key page's chart reads what is pending too). */
const USAGE_FLUSH_MS = '200';
const BRAND = 'Tessera';

const DEMO_EMAIL = 'demo@tessera.local';
const DEMO_ORG_ID = 'org_demo';
const DEMO_ORG_NAME = 'Demo Organization';
const DEMO_CONNECTOR = { id: 'demo-connector', name: 'Demo Connector', redirectUri: 'http://127.0.0.1:8085/callback' };
const DEMO_RESOURCE_SERVER = 'demo-resource-server';
/** The demo connector's scopes: the catalog's (built-in and the default leads:*) but the audit log's. */
const DEMO_SCOPES = [...BUILTIN_SCOPES.filter((s) => s !== 'audit:read'), 'leads:read', 'leads:write'];
const MARKUP_NAME = '<script>alert(1)</script>';

// ---------------------------------------------------------------------------------------------
// Where screenshots go

const DOCS_DIR = join(ROOT, 'docs', 'screenshots');
const askedDir = process.env.TESSERA_SCREENSHOT_DIR ? resolve(process.env.TESSERA_SCREENSHOT_DIR) : null;
/** docs/screenshots/ only when asked for; a normal run never writes there. */
const DOCS_SHOTS = process.env.TESSERA_DOCS_SCREENSHOTS === '1' || askedDir === DOCS_DIR ? DOCS_DIR : null;
const RUN_SHOTS = askedDir !== null && askedDir !== DOCS_DIR ? askedDir : join(testLogDir(), 'screenshots');
/** The committed pages (light mode, embedded demo): about 12 small PNGs. */
const COMMITTED = new Set(['sign-in', 'api-keys', 'key-created', 'key-page', 'connected-apps', 'audit-log']);

// ---------------------------------------------------------------------------------------------
// The parties

type Mode = 'embedded' | 'external';

interface Person {
  email: string;
  password: string;
}

interface OAuthClientCredentials {
  id: string;
  secret: string;
}

interface Connector extends OAuthClientCredentials {
  name: string;
  redirectUri: string;
  /** The resource scopes it is registered for. */
  registered: string[];
}

/** One Tessera and the parties on it that a scenario uses. */
interface World {
  tessera: TesseraProcess;
  url: string;
  orgId: string;
  orgName: string;
  owner: Person;
  /** An API key of the owner (every scope): to look at the organization through the API. */
  ownerKey: string;
  connector: Connector;
  resourceServer: OAuthClientCredentials;
}

/** A World whose organization also has an admin (who is a viewer of a second organization), an editor and a viewer. */
interface Team extends World {
  admin: Person;
  editor: Person;
  viewer: Person;
  secondOrgName: string;
}

interface Worlds {
  /** The owner's scenarios: the demo (embedded) or the seeded Tessera (external). */
  main: World;
  /** The scenarios with other members: a seeded Tessera. */
  team: Team;
  stop(): Promise<void>;
}

const randomSecret = (prefix: string): string => recordSecret(`${prefix}${randomBytes(24).toString('base64url')}`);

/** The seed file: the demo's parties again, and the other members. */
function teamSeed(): { seed: Record<string, unknown>; parties: Omit<Team, 'tessera' | 'url'> } {
  const person = (email: string): Person => ({ email, password: randomSecret('pw-') });
  const owner = person(DEMO_EMAIL);
  const admin = person('admin@tessera.local');
  const editor = person('editor@tessera.local');
  const viewer = person('viewer@tessera.local');
  const connector: Connector = { ...DEMO_CONNECTOR, secret: randomSecret('cs_'), registered: DEMO_SCOPES };
  const resourceServer = { id: DEMO_RESOURCE_SERVER, secret: randomSecret('rs_') };
  const ownerKey = recordSecret(generateKey(DEFAULT_KEY_FORMAT, 'live').key);
  const secondOrg = { id: 'org_globex', name: 'Globex' };
  const seed = {
    users: [
      { email: owner.email, password: owner.password, name: 'Demo Owner' },
      { email: admin.email, password: admin.password, name: 'Ada Admin' },
      { email: editor.email, password: editor.password, name: 'Eddie Editor' },
      { email: viewer.email, password: viewer.password, name: 'Vera Viewer' },
    ],
    organizations: [{ id: DEMO_ORG_ID, name: DEMO_ORG_NAME, plan: 'free' }, secondOrg],
    memberships: [
      { user: owner.email, org: DEMO_ORG_ID, role: 'owner' },
      { user: admin.email, org: DEMO_ORG_ID, role: 'admin' },
      { user: editor.email, org: DEMO_ORG_ID, role: 'editor' },
      { user: viewer.email, org: DEMO_ORG_ID, role: 'viewer' },
      { user: admin.email, org: secondOrg.id, role: 'viewer' },
    ],
    clients: [
      { client_id: connector.id, client_secret: connector.secret, name: connector.name, redirect_uris: [connector.redirectUri], scopes: connector.registered },
      { client_id: resourceServer.id, client_secret: resourceServer.secret, name: 'Demo Resource Server', type: 'resource_server' },
    ],
    api_keys: [{ key: ownerKey, user: owner.email, org: DEMO_ORG_ID, name: 'demo' }],
  };
  return { seed, parties: { orgId: DEMO_ORG_ID, orgName: DEMO_ORG_NAME, owner, admin, editor, viewer, ownerKey, connector, resourceServer, secondOrgName: secondOrg.name } };
}

function writeSeed(seed: Record<string, unknown>): string {
  const file = join(mkdtempSync(join(tmpdir(), 'tessera-console-')), 'seed.json');
  writeFileSync(file, JSON.stringify(seed));
  return file;
}

/** The demo's credentials, from the banner (kept in memory only): the password line and the `export …` line. */
function demoWorld(tessera: TesseraProcess): World {
  const banner = tessera.output();
  const password = /with password (\S+)/.exec(banner)?.[1];
  const exportLine = /^\s*export (.+)$/m.exec(banner)?.[1];
  const authorizeUrl = /(http:\/\/\S+\/oauth\/auth\?\S+)/.exec(banner)?.[1];
  if (!password || !exportLine || !authorizeUrl) throw new Error(`no demo credentials in the banner:\n${banner}`);
  const exported = new Map(
    exportLine.split(' ').map((pair) => {
      const at = pair.indexOf('=');
      return [pair.slice(0, at), pair.slice(at + 1)] as const;
    }),
  );
  const get = (name: string): string => {
    const value = exported.get(name);
    if (!value) throw new Error(`the banner's export line has no ${name}`);
    return value;
  };
  for (const name of ['KEY', 'RS_SECRET', 'CONNECTOR_SECRET', 'VERIFIER']) recordSecret(get(name));
  // The scopes the banner's authorization URL asks for: the connector's registered ones, and offline_access.
  const registered = (new URL(authorizeUrl).searchParams.get('scope') ?? '').split(' ').filter((s) => s !== 'offline_access');
  return {
    tessera,
    url: tessera.url,
    orgId: DEMO_ORG_ID,
    orgName: DEMO_ORG_NAME,
    owner: { email: DEMO_EMAIL, password: recordSecret(password) },
    ownerKey: get('KEY'),
    connector: { id: get('CONNECTOR_ID'), secret: get('CONNECTOR_SECRET'), name: DEMO_CONNECTOR.name, redirectUri: get('REDIRECT_URI'), registered },
    resourceServer: { id: get('RS_ID'), secret: get('RS_SECRET') },
  };
}

async function startWorlds(mode: Mode): Promise<Worlds> {
  const { seed, parties } = teamSeed();
  const seedFile = writeSeed(seed);
  const common = { TESSERA_USAGE_FLUSH_MS: USAGE_FLUSH_MS, TESSERA_AUTH_FAILURES_PER_MINUTE: '1000', TESSERA_SCOPES: 'leads:read leads:write' };
  if (mode === 'embedded') {
    const [demo, seeded] = await Promise.all([
      startTessera({ NODE_ENV: 'development', ...common }, 'browser-console-demo', 'memory'),
      startTessera({ TESSERA_SEED: seedFile, ...common }, 'browser-console-team'),
    ]);
    return {
      main: demoWorld(demo),
      team: { ...parties, tessera: seeded, url: seeded.url },
      stop: async () => {
        await Promise.all([demo.stop(), seeded.stop()]);
      },
    };
  }
  const database = uniqueName('e2e_console');
  const tessera = await startTessera(
    { TESSERA_SEED: seedFile, MONGODB_URI: mongoUriFor(database), REDIS_URL: redisUrl(), TESSERA_REDIS_PREFIX: `${database}:`, ...common },
    'browser-console-external',
  );
  await waitUntilReady(tessera);
  const team: Team = { ...parties, tessera, url: tessera.url };
  return {
    main: team,
    team,
    stop: async () => {
      await tessera.stop();
      const connection = await mongoose.createConnection(mongoUriFor(database)).asPromise();
      await connection.dropDatabase();
      await connection.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Talking to Tessera as the other parties do (Node's fetch)


/** A key of the owner made through the API: `{ id, key }`. */
async function keyByApi(world: World, name: string, scopes: string[]): Promise<{ id: string; key: string }> {
  const created = await apiCall(world.url, 'POST', '/api/v1/api-keys', world.ownerKey, { name, scopes });
  expect(created.status).toBe(201);
  const body = created.body as { id: string; key: string };
  return { id: body.id, key: recordSecret(body.key) };
}

/** Whether a key works at the API: /api/v1/me's status. */
async function meStatus(world: World, key: string): Promise<number> {
  return (await apiCall(world.url, 'GET', '/api/v1/me', key)).status;
}

/** RFC 7662 introspection, asked as the resource server. */
async function introspect(world: World, token: string): Promise<Record<string, unknown>> {
  const res = await fetch(new URL('/oauth/introspect', world.url), {
    method: 'POST',
    headers: { authorization: basicAuthorization(world.resourceServer), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }).toString(),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

/** A person connects the connector without a browser (the HTTP helper's real forms): the access token. */
async function connectOverHttp(world: World, person: Person): Promise<string> {
  const { browser, verifier } = await authorizeAndSignIn(world.url, world.connector, person, 'leads:read apps:read');
  const done = await browser.consent(world.orgId);
  const code = done.redirect?.searchParams.get('code');
  if (!code) throw new Error(`the consent did not redirect with a code: ${done.status} ${done.body.slice(0, 300)}`);
  const reply = await tokenRequest(world.url, world.connector, { grant_type: 'authorization_code', code, redirect_uri: world.connector.redirectUri, code_verifier: verifier });
  expect(reply.status).toBe(200);
  return recordSecret(String(reply.body.access_token));
}

// ---------------------------------------------------------------------------------------------
// In the browser

const pathOf = (page: Page): string => new URL(page.url()).pathname;

/** The session cookie is a secret for the leak scan (the logs must never hold it). */
async function recordSessionCookie(context: BrowserContext): Promise<void> {
  for (const cookie of await context.cookies()) if (cookie.name === 'tessera_session') recordSecret(cookie.value);
}

/** Opens `path`; when Tessera asks to sign in first, fills the sign-in form, and returns there. */
async function signIn(page: Page, world: World, person: Person, path = '/settings/api-keys'): Promise<void> {
  await page.goto(new URL(path, world.url).href);
  if (pathOf(page) === '/sign-in') {
    await page.getByLabel('Email').fill(person.email);
    await page.getByLabel('Password').fill(person.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.pathname !== '/sign-in');
  }
  expect(pathOf(page)).toBe(new URL(path, world.url).pathname);
  await recordSessionCookie(page.context());
}

/**
 * Signs in with the keyboard only: the first Tab reaches the skip link, then Tab to the e-mail
 * field, type, Tab to the password, type, Tab to the button, Enter.
 */
async function signInWithKeyboard(page: Page, person: Person): Promise<void> {
  await page.keyboard.press('Tab');
  expect(await focused(page)).toMatchObject({ tag: 'a', text: 'Skip to content' });
  await tabUntil(page, (el) => el.tag === 'input' && el.id === 'email', 'the e-mail field', { maxPresses: 4 });
  await page.keyboard.type(person.email);
  await page.keyboard.press('Tab');
  expect(await focused(page)).toMatchObject({ tag: 'input', id: 'password' });
  await page.keyboard.type(person.password);
  await tabUntil(page, (el) => el.tag === 'button' && el.text === 'Sign in', 'the Sign in button', { maxPresses: 3 });
  await page.keyboard.press('Enter');
  await page.waitForURL((url) => url.pathname !== '/sign-in');
  await recordSessionCookie(page.context());
}

/** The CSRF token of the page's forms (every console form has its session's). */
async function csrfOfPage(page: Page): Promise<string> {
  return page.locator('input[name="csrf"]').first().inputValue();
}

/**
 * Submits a form made in the page (as a page of Tessera's origin could, or a forger with script
 * access): the browser's own form navigation, with its cookies. Returns the response to the post.
 */
async function postForm(page: Page, action: string, fields: Record<string, string | string[]>): Promise<PageResponse> {
  const posted = page.waitForResponse((r) => r.request().method() === 'POST' && r.url() === action);
  await page.evaluate(
    ({ action, fields }) => {
      interface El {
        setAttribute(name: string, value: string): void;
        append(child: El): void;
        submit(): void;
      }
      const doc = (globalThis as unknown as { document: { createElement(tag: string): El; body: El } }).document;
      const form = doc.createElement('form');
      form.setAttribute('method', 'post');
      form.setAttribute('action', action);
      for (const [name, value] of Object.entries(fields)) {
        for (const v of Array.isArray(value) ? value : [value]) {
          const input = doc.createElement('input');
          input.setAttribute('type', 'hidden');
          input.setAttribute('name', name);
          input.setAttribute('value', v);
          form.append(input);
        }
      }
      doc.body.append(form);
      // After this evaluation returns: the navigation would otherwise destroy its context.
      setTimeout(() => form.submit(), 0);
    },
    { action, fields },
  );
  return posted;
}

async function heading(page: Page): Promise<string> {
  return ((await page.getByRole('heading', { level: 1 }).textContent()) ?? '').trim();
}

/** The scope checkbox of a form, by its accessible name (the scope's words and the scope). */
function scopeBox(page: Page, scope: string): Locator {
  return page.getByRole('checkbox', { name: new RegExp(`(^|\\s)${scope.replace(/[.]/g, '\\.')}$`) });
}

/** The document's width against the viewport's: more means the page scrolls sideways. */
async function pageWidth(page: Page): Promise<{ scrollWidth: number; viewport: number }> {
  return page.evaluate(() => {
    const doc = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document;
    return { scrollWidth: doc.documentElement.scrollWidth, viewport: doc.documentElement.clientWidth };
  });
}

function expectFits(shots: Screenshot[]): void {
  expect(shots.map((s) => s.width)).toEqual([1280, 375]);
  for (const shot of shots) {
    expect(statSync(shot.file).size).toBeGreaterThan(1_000);
    expect({ file: shot.file, scrollWidth: shot.scrollWidth }).toEqual({ file: shot.file, scrollWidth: shot.width });
  }
}

/** Reloads a key's page until its chart counts at least `atLeast` requests; returns the count. */
async function waitForUsage(page: Page, atLeast: number, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const caption = (await page.locator('figcaption').first().textContent()) ?? '';
    const total = Number(/(\d+) in all/.exec(caption)?.[1] ?? NaN);
    if (total >= atLeast) return total;
    if (Date.now() > deadline) throw new Error(`the usage chart counts ${caption.trim() || 'nothing'}, not ${atLeast} requests, after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
    await page.reload();
  }
}

// ---------------------------------------------------------------------------------------------
// The file's browser, catcher and context options

/** Every context reaches Tessera directly and anything else (127.0.0.1:8085, "another site") through the catcher. */
let contextOptions: BrowserContextOptions = {};
const web = useBrowser({ context: () => contextOptions });
const catcher = useRedirectCatcher();

/** Another context of the file's browser (a second session, a fresh visitor, dark mode), its errors watched. */
async function otherContext(options: BrowserContextOptions = {}): Promise<{ context: BrowserContext; page: Page; problems: ReturnType<typeof watchProblems> }> {
  const context = await newContext(web.browser, { ...contextOptions, ...options });
  const problems = watchProblems(context);
  return { context, page: await context.newPage(), problems };
}

const MODES: Array<{ mode: Mode; title: string }> = [
  { mode: 'embedded', title: 'embedded stores (the development demo, and a seeded team)' },
  { mode: 'external', title: 'MongoDB (FerretDB) + Redis (a seeded organization)' },
];

describe.each(MODES)('the console in Chromium on $title', ({ mode }) => {
  let worlds: Worlds;
  let main: World;
  let team: Team;
  /** openid-client as the demo connector of the main world. */
  let connectorConfig: client.Configuration;
  /** Screenshots already taken in this mode (each page once). */
  const taken = new Set<string>();

  beforeAll(async () => {
    worlds = await startWorlds(mode);
    ({ main, team } = worlds);
    contextOptions = catcher.proxyFor([...new Set([main.url, team.url])]);
    const { id, secret } = main.connector;
    connectorConfig = await client.discovery(new URL(main.url), id, secret, client.ClientSecretBasic(secret), { execute: [client.allowInsecureRequests] });
  }, SETUP_TIMEOUT);

  afterAll(async () => {
    await worlds?.stop();
  });

  /**
   * What every visited page gets: axe-core (serious or critical fails), no sideways scrolling at
   * the current width, and — the first time a page is named — screenshots at 1280 and 375 px that
   * must not scroll sideways either; the committed ones also to docs/screenshots/ when asked.
   */
  async function look(page: Page, label: string, shot?: string, mask: Locator[] = []): Promise<void> {
    await checkAccessibility(page, `${label} (${mode})`);
    const width = await pageWidth(page);
    expect({ label, scrollWidth: width.scrollWidth }).toEqual({ label, scrollWidth: width.viewport });
    if (shot === undefined || taken.has(shot)) return;
    taken.add(shot);
    expectFits(await screenshot(page, `console-${mode}-${shot}`, { dir: RUN_SHOTS, mask }));
    if (DOCS_SHOTS !== null && mode === 'embedded' && COMMITTED.has(shot)) await screenshot(page, shot, { dir: DOCS_SHOTS, mask });
  }

  it(
    '1. signs in with the keyboard, creates a key shown once, copies it, uses it at the API, deletes it on its page (the confirmation names it): then the API refuses it',
    async () => {
      const { page, context } = web;
      await page.goto(`${main.url}/settings/api-keys`);
      expect(pathOf(page)).toBe('/sign-in');
      expect(new URL(page.url()).searchParams.get('return_to')).toBe('/settings/api-keys');
      expect(await heading(page)).toBe(`Sign in to ${BRAND}`);
      await look(page, 'the sign-in page', 'sign-in');

      await signInWithKeyboard(page, main.owner);
      expect(pathOf(page)).toBe('/settings/api-keys');
      const session = (await context.cookies()).find((c) => c.name === 'tessera_session');
      expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', secure: false });
      expect(await page.getByText(`${main.orgName} (owner)`).isVisible()).toBe(true);

      await page.getByRole('link', { name: 'Create API key' }).click();
      await page.waitForURL((url) => url.pathname === '/settings/api-keys/new');
      expect(await heading(page)).toBe('Create an API key');
      await look(page, 'the create form', 'create-key');
      await page.getByLabel('Name').fill('Zapier pipeline');
      await scopeBox(page, 'keys:read').check();
      await scopeBox(page, 'leads:read').check();
      const creating = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/settings/api-keys');
      await page.getByRole('button', { name: 'Create key' }).click();
      expect((await creating).status()).toBe(201);
      await page.getByRole('heading', { level: 1, name: 'Your API key' }).waitFor();
      expect(await page.getByText('Copy this key now.').isVisible()).toBe(true);
      const shown = recordSecret(((await page.locator('#new-key').textContent()) ?? '').trim());
      expect(shown).toMatch(/^[\x21-\x7e]{24,}$/);

      // The Copy button (shown by the page's script) puts the key on the clipboard, and says so.
      const copied = await copyToClipboard(page, page.getByRole('button', { name: 'Copy' }));
      expect(copied).toBe(shown);
      await expect(page.locator('#new-key-status').textContent()).resolves.toBe('Copied to the clipboard.');
      await expect(page.getByRole('button', { name: 'Copied' }).count()).resolves.toBe(1);
      await look(page, 'the key shown once', 'key-created', [page.locator('#new-key')]);

      const me = await apiCall(main.url, 'GET', '/api/v1/me', copied);
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ kind: 'api_key', org_id: main.orgId, scopes: ['keys:read', 'leads:read'] });
      const keyId = String((me.body as { key_id: string }).key_id);
      for (let i = 0; i < 4; i++) expect(await meStatus(main, copied)).toBe(200);

      // Its page: the usage chart counts the five calls; the key itself is never shown again.
      await page.getByRole('link', { name: 'Done' }).click();
      await page.waitForURL((url) => url.pathname === `/settings/api-keys/${keyId}`);
      expect(await heading(page)).toBe('Zapier pipeline');
      expect(await waitForUsage(page, 5)).toBe(5);
      expect(await page.getByRole('img', { name: /^Requests per day from .*: 5 in all, at most 5 a day$/ }).count()).toBe(1);
      expect(await page.content()).not.toContain(shown);
      await look(page, 'the key page', 'key-page');

      await page.getByRole('link', { name: '← API keys' }).click();
      await page.waitForURL((url) => url.pathname === '/settings/api-keys');
      expect(await page.getByRole('link', { name: 'Zapier pipeline' }).count()).toBe(1);
      expect(await page.content()).not.toContain(shown);
      await look(page, 'the API keys list', 'api-keys');

      // Delete it on its page, through a confirmation that names it.
      await page.getByRole('link', { name: 'Zapier pipeline' }).click();
      await page.getByRole('link', { name: 'Delete…' }).click();
      await page.waitForURL((url) => url.pathname === `/settings/api-keys/${keyId}/delete`);
      expect(await heading(page)).toBe('Delete “Zapier pipeline”?');
      await look(page, 'the delete confirmation', 'delete-key');
      await page.getByRole('button', { name: 'Delete key' }).click();
      await page.waitForURL((url) => url.pathname === '/settings/api-keys');
      await expect(page.getByRole('status').textContent()).resolves.toContain('The API key was deleted.');
      expect(await page.getByRole('link', { name: 'Zapier pipeline' }).count()).toBe(0);
      await look(page, 'the API keys list after the deletion');

      expect(await meStatus(main, copied)).toBe(401);
    },
    TEST_TIMEOUT,
  );

  it(
    '2. connects the demo connector through the OAuth pages (openid-client, PKCE, offline_access), sees it in Connected apps, revokes it: its access token is inactive and its refresh token refused',
    async () => {
      const { page } = web;
      const { connector } = main;
      // The connector is registered for the catalog's scopes but the audit log's; it asks for them and a refresh token.
      const metadata = (await (await fetch(`${main.url}/.well-known/oauth-authorization-server`)).json()) as { scopes_supported: string[] };
      expect([...connector.registered].sort()).toEqual(metadata.scopes_supported.filter((s) => s.includes(':') && s !== 'audit:read').sort());
      expect([...connector.registered].sort()).toEqual([...DEMO_SCOPES].sort());
      const scope = [...connector.registered, 'offline_access'].join(' ');
      const verifier = recordSecret(client.randomPKCECodeVerifier());
      const state = client.randomState();
      const authorizationUrl = client.buildAuthorizationUrl(connectorConfig, {
        redirect_uri: connector.redirectUri,
        scope,
        state,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });

      await page.goto(authorizationUrl.href);
      expect(await heading(page)).toBe(`Sign in to connect ${connector.name}`);
      await page.getByLabel('Email').fill(main.owner.email);
      await page.getByLabel('Password').fill(main.owner.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { level: 1, name: `${connector.name} wants to access your account` }).waitFor();
      expect(await page.getByText('Stay connected when you are not using it').isVisible()).toBe(true);
      await look(page, 'the consent page');
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL((url) => url.href.startsWith(`${connector.redirectUri}?`) && url.searchParams.get('state') === state);

      const tokens = await client.authorizationCodeGrant(connectorConfig, new URL(page.url()), { pkceCodeVerifier: verifier, expectedState: state });
      const accessToken = recordSecret(tokens.access_token);
      expect(tokens.refresh_token).toEqual(expect.any(String));
      const refreshToken = recordSecret(tokens.refresh_token!);
      // The access token's scope is the resource's (RFC 8707): offline_access shows as the refresh token.
      expect((tokens.scope ?? '').split(' ').sort()).toEqual([...connector.registered].sort());
      expect(await meStatus(main, accessToken)).toBe(200);
      expect(await introspect(main, accessToken)).toMatchObject({ active: true, client_id: connector.id, org_id: main.orgId });

      // Settings → Connected apps (the OAuth sign-in is no console session: sign in, and come back).
      await signIn(page, main, main.owner, '/settings/connected-apps');
      const card = page.getByRole('article', { name: connector.name });
      await card.waitFor();
      expect(await card.getByText(main.orgName).isVisible()).toBe(true);
      // What it may do, in words (the connected app records its resource scopes).
      expect(await card.getByText('Read leads', { exact: true }).isVisible()).toBe(true);
      await look(page, 'connected apps', 'connected-apps');

      await card.getByRole('link', { name: `Revoke ${connector.name}` }).click();
      await page.waitForURL((url) => /^\/settings\/connected-apps\/[^/]+\/revoke$/.test(url.pathname));
      expect(await heading(page)).toBe(`Revoke ${connector.name}?`);
      expect(await page.locator('main').textContent()).toContain(`${connector.name} will lose access at once`);
      await look(page, 'the revoke confirmation', 'revoke-app');
      await page.getByRole('button', { name: `Revoke ${connector.name}` }).click();
      await page.waitForURL((url) => url.pathname === '/settings/connected-apps');
      await expect(page.getByRole('status').textContent()).resolves.toBe('The app was disconnected. It lost access at once.');
      expect(await page.getByRole('article', { name: connector.name }).count()).toBe(0);
      await look(page, 'connected apps after the revocation');

      expect(await introspect(main, accessToken)).toEqual({ active: false });
      expect(await meStatus(main, accessToken)).toBe(401);
      await expect(client.refreshTokenGrant(connectorConfig, refreshToken)).rejects.toMatchObject({ error: 'invalid_grant' });
    },
    TEST_TIMEOUT,
  );

  it(
    '3. a viewer sees no "Create API key" button and cannot open the form; a forged post from its page (its own CSRF token) is refused with 403, and no key is made',
    async () => {
      const { page } = web;
      await signIn(page, team, team.viewer);
      expect(await page.getByText(`${team.orgName} (viewer)`).isVisible()).toBe(true);
      expect(await page.getByRole('link', { name: 'Create API key' }).count()).toBe(0);
      expect(await page.getByRole('button', { name: /create/i }).count()).toBe(0);
      expect(await page.getByRole('navigation', { name: 'Settings' }).getByRole('link').allTextContents()).toEqual(['API keys', 'Connected apps']);
      await look(page, 'the API keys list (viewer)', 'api-keys-viewer');

      const form = await page.goto(`${team.url}/settings/api-keys/new`);
      expect(form?.status()).toBe(403);
      expect(await heading(page)).toBe('You cannot create API keys');
      await look(page, 'the create form refused (viewer)');

      await page.goto(`${team.url}/settings/api-keys`);
      const csrf = await csrfOfPage(page);
      const action = `${team.url}/settings/api-keys`;
      const forged = await postForm(page, action, { csrf, name: 'sneaky', scopes: ['leads:read'], env: 'live' });
      expect(forged.status()).toBe(403);
      await page.waitForURL(action);
      expect(await heading(page)).toBe('That cannot be done');
      // The role refused it, not the token: this is not the expired-form page.
      expect(await page.locator('main').textContent()).not.toContain('This form has expired');
      await look(page, 'the forged post refused (viewer)');

      // The same post with the session's cookie, outside the browser (no form navigation).
      const cookie = (await page.context().cookies(team.url)).map((c) => `${c.name}=${c.value}`).join('; ');
      const replay = await fetch(action, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: recordSecret(cookie), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf, name: 'sneaky too', scopes: 'leads:read' }).toString(),
      });
      expect(replay.status).toBe(403);

      const keys = await apiCall(team.url, 'GET', '/api/v1/api-keys', team.ownerKey);
      expect(keys.status).toBe(200);
      const names = (keys.body as Array<{ name: string | null }>).map((k) => k.name);
      expect(names).toContain('demo');
      expect(names.filter((name) => name?.startsWith('sneaky'))).toEqual([]);
    },
    TEST_TIMEOUT,
  );

  it(
    '4. an admin’s organization view (?all=true) shows another member’s connected app, with the member, and revokes it; the switcher changes organization',
    async () => {
      const { page } = web;
      const editorToken = await connectOverHttp(team, team.editor);
      expect(await meStatus(team, editorToken)).toBe(200);

      await signIn(page, team, team.admin, '/settings/connected-apps');
      expect(await page.getByRole('article', { name: team.connector.name }).count()).toBe(0);
      await look(page, 'connected apps (admin, own)');
      await page.getByRole('link', { name: 'Show every member’s' }).click();
      await page.waitForURL((url) => url.pathname === '/settings/connected-apps' && url.searchParams.get('all') === 'true');
      // The editor's card (on the external Tessera the owner's app, from scenario 2, may be listed too).
      const card = page.getByRole('article', { name: team.connector.name }).filter({ hasText: team.editor.email });
      await card.waitFor();
      expect(await card.count()).toBe(1);
      expect(await card.getByText(team.editor.email).isVisible()).toBe(true);
      await look(page, 'connected apps (admin, organization view)', 'connected-apps-organization');

      await card.getByRole('link', { name: `Revoke ${team.connector.name}` }).click();
      expect(await page.locator('main').textContent()).toContain(`${team.connector.name} will lose access at once`);
      await look(page, 'the revoke confirmation (admin)');
      await page.getByRole('button', { name: `Revoke ${team.connector.name}` }).click();
      await page.waitForURL((url) => url.pathname === '/settings/connected-apps');
      await expect(page.getByRole('status').textContent()).resolves.toBe('The app was disconnected. It lost access at once.');
      await page.getByRole('link', { name: 'Show every member’s' }).click();
      await page.waitForURL((url) => url.searchParams.get('all') === 'true');
      expect(await page.getByRole('article', { name: team.connector.name }).filter({ hasText: team.editor.email }).count()).toBe(0);
      await look(page, 'connected apps (admin, organization view, after the revocation)');
      expect(await meStatus(team, editorToken)).toBe(401);
      expect(await introspect(team, editorToken)).toEqual({ active: false });

      // The organization switcher submits on change (the page's script): now a viewer of the second one.
      const switcher = page.getByLabel('Organization');
      expect(await switcher.inputValue()).toBe(team.orgId);
      await switcher.selectOption({ label: `${team.secondOrgName} (viewer)` });
      await page.waitForURL((url) => url.pathname === '/settings/connected-apps' && !url.search);
      expect(await switcher.inputValue()).toBe('org_globex');
      expect(await page.getByRole('link', { name: 'Show every member’s' }).count()).toBe(0);
      await look(page, 'connected apps after switching organization');
    },
    TEST_TIMEOUT,
  );

  it(
    '5. CSRF: a form replayed with another session’s token is 403 and does nothing; a post without the session cookie (a fresh browser, or another site’s form) is not acted on',
    async () => {
      const { page } = web;
      const target = await keyByApi(main, 'CSRF target', ['keys:read']);
      const keyPage = `${main.url}/settings/api-keys/${target.id}`;
      await signIn(page, main, main.owner, `/settings/api-keys/${target.id}`);
      const mine = await csrfOfPage(page);

      // A second session (the same person in another browser): its token is not this session's.
      const other = await otherContext();
      try {
        await signIn(other.page, main, main.owner, `/settings/api-keys/${target.id}`);
        const theirs = await csrfOfPage(other.page);
        expect(theirs).not.toBe(mine);
        await page.locator(`form[action="/settings/api-keys/${target.id}/disable"] input[name="csrf"]`).evaluate((input, value) => {
          (input as unknown as { value: string }).value = value;
        }, theirs);
        const disabling = page.waitForResponse((r) => r.request().method() === 'POST' && r.url() === `${keyPage}/disable`);
        await page.getByRole('button', { name: 'Disable' }).click();
        expect((await disabling).status()).toBe(403);
        await page.waitForURL(`${keyPage}/disable`);
        expect(await heading(page)).toBe('This form has expired');
        await look(page, 'the expired-form page', 'form-expired');
        other.problems.expectNone('the second session’s pages');
      } finally {
        await other.context.close();
      }
      expect(await meStatus(main, target.key)).toBe(200);

      // The page's own token works: disable, then enable again.
      await page.goto(keyPage);
      await page.getByRole('button', { name: 'Disable' }).click();
      await page.waitForURL((url) => url.pathname === `/settings/api-keys/${target.id}` && url.searchParams.get('notice') === 'key-disabled');
      expect(await meStatus(main, target.key)).toBe(401);
      await page.getByRole('button', { name: 'Enable' }).click();
      await page.waitForURL((url) => url.searchParams.get('notice') === 'key-enabled');
      expect(await meStatus(main, target.key)).toBe(200);

      // A fresh browser (no session cookie) posting the delete form, with a real token: sent to sign in, nothing done.
      const fresh = await otherContext();
      try {
        await fresh.page.goto(`${main.url}/sign-in`);
        const action = `${keyPage}/delete`;
        const posted = await postForm(fresh.page, action, { csrf: mine });
        expect(posted.status()).toBe(303);
        await fresh.page.waitForURL((url) => url.pathname === '/sign-in');
        expect(await heading(fresh.page)).toBe(`Sign in to ${BRAND}`);
        expect(await fresh.context.cookies()).not.toEqual(expect.arrayContaining([expect.objectContaining({ name: 'tessera_session' })]));
        fresh.problems.expectNone('the fresh browser’s pages');
      } finally {
        await fresh.context.close();
      }
      expect(await meStatus(main, target.key)).toBe(200);

      // Another site's form, in the signed-in browser, even with this session's real token: the
      // SameSite=Lax cookie is not sent with a cross-site post, so Tessera sees no session.
      const attacker = `http://localhost:${new URL(catcher.origin).port}/`;
      catcher.serve(
        '/attack',
        `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Win a prize</title></head><body><main><h1>Win a prize</h1>` +
          `<form method="post" action="${keyPage}/delete"><input type="hidden" name="csrf" value="${mine}"><button type="submit">Claim</button></form></main></body></html>`,
      );
      await page.goto(`${attacker}attack`);
      const crossSite = page.waitForResponse((r) => r.request().method() === 'POST' && r.url() === `${keyPage}/delete`);
      await page.getByRole('button', { name: 'Claim' }).click();
      expect((await crossSite).status()).toBe(303);
      await page.waitForURL((url) => url.origin === main.url && url.pathname === '/sign-in');
      expect(await meStatus(main, target.key)).toBe(200);
      // The session itself was not touched: the key's page, still signed in, the key active.
      await page.goto(keyPage);
      expect(pathOf(page)).toBe(`/settings/api-keys/${target.id}`);
      expect(await page.locator('.headline .badge').textContent()).toBe('Active');
      await look(page, 'the key page after the forgeries');
    },
    TEST_TIMEOUT,
  );

  it(
    '6. a key named <script>alert(1)</script> renders as text on every page (title included): no dialog, no script of its own',
    async () => {
      const { page } = web;
      const dialogs: string[] = [];
      page.on('dialog', (dialog) => {
        dialogs.push(`${dialog.type()}: ${dialog.message()}`);
        void dialog.dismiss();
      });
      const onlyTheConsoleScript = async (where: string): Promise<void> => {
        expect({ where, scripts: await page.locator('script').count() }).toEqual({ where, scripts: 1 });
        expect(await page.locator('main').innerText()).toContain(MARKUP_NAME);
      };

      await signIn(page, main, main.owner, '/settings/api-keys/new');
      await page.getByLabel('Name').fill(MARKUP_NAME);
      await scopeBox(page, 'keys:read').check();
      await page.getByRole('button', { name: 'Create key' }).click();
      await page.getByRole('heading', { level: 1, name: 'Your API key' }).waitFor();
      recordSecret(((await page.locator('#new-key').textContent()) ?? '').trim());
      await onlyTheConsoleScript('the key shown once');
      await look(page, 'the key shown once (markup name)', undefined, [page.locator('#new-key')]);

      await page.getByRole('link', { name: 'Done' }).click();
      await page.waitForURL((url) => /^\/settings\/api-keys\/[^/]+$/.test(url.pathname));
      expect(await heading(page)).toBe(MARKUP_NAME);
      expect(await page.title()).toBe(`${MARKUP_NAME} · ${BRAND}`);
      expect(await page.getByLabel('Name').inputValue()).toBe(MARKUP_NAME);
      await onlyTheConsoleScript('the key page');
      await look(page, 'the key page (markup name)');

      await page.getByRole('link', { name: '← API keys' }).click();
      await page.waitForURL((url) => url.pathname === '/settings/api-keys');
      expect(await page.getByRole('link', { name: MARKUP_NAME }).count()).toBe(1);
      await onlyTheConsoleScript('the list');
      await look(page, 'the API keys list (markup name)');

      await page.getByRole('link', { name: MARKUP_NAME }).click();
      await page.getByRole('link', { name: 'Delete…' }).click();
      expect(await heading(page)).toBe(`Delete “${MARKUP_NAME}”?`);
      await onlyTheConsoleScript('the delete confirmation');
      await look(page, 'the delete confirmation (markup name)');
      await page.getByRole('button', { name: 'Delete key' }).click();
      await page.waitForURL((url) => url.pathname === '/settings/api-keys');

      expect(dialogs).toEqual([]);
    },
    TEST_TIMEOUT,
  );

  it(
    '7. layout: at 375 px no console page scrolls sideways; in dark mode the main pages pass axe',
    async () => {
      const { page } = web;
      // Something on every page: a key (with a long name) and a connected app.
      const key = await keyByApi(main, 'Nightly export to the data warehouse (eu-central-1)', ['keys:read', 'leads:read']);
      expect(await meStatus(main, key.key)).toBe(200);
      await connectOverHttp(main, main.owner);

      await page.setViewportSize({ width: 375, height: 812 });
      await page.goto(`${main.url}/sign-in`);
      await look(page, 'the sign-in page at 375 px');
      await signIn(page, main, main.owner, '/settings/connected-apps');
      const revoke = await page.getByRole('link', { name: `Revoke ${main.connector.name}` }).first().getAttribute('href');
      const paths = ['/settings/api-keys', '/settings/api-keys/new', `/settings/api-keys/${key.id}`, `/settings/api-keys/${key.id}/delete`, '/settings/connected-apps', revoke!, '/settings/audit-log'];
      for (const path of paths) {
        const response = await page.goto(`${main.url}${path}`);
        expect({ path, status: response?.status() }).toEqual({ path, status: 200 });
        await look(page, `${path} at 375 px`);
      }

      // Dark mode: the palette of prefers-color-scheme: dark.
      const dark = await otherContext({ colorScheme: 'dark' });
      try {
        await dark.page.goto(`${main.url}/sign-in`);
        const background = await dark.page.evaluate(() => {
          const g = globalThis as unknown as { matchMedia(q: string): { matches: boolean }; getComputedStyle(el: unknown): { backgroundColor: string }; document: { body: unknown } };
          return { dark: g.matchMedia('(prefers-color-scheme: dark)').matches, color: g.getComputedStyle(g.document.body).backgroundColor };
        });
        expect(background).toEqual({ dark: true, color: 'rgb(15, 18, 24)' });
        await checkAccessibility(dark.page, `the sign-in page in dark mode (${mode})`);
        await signIn(dark.page, main, main.owner);
        for (const path of paths) {
          await dark.page.goto(`${main.url}${path}`);
          await checkAccessibility(dark.page, `${path} in dark mode (${mode})`);
        }
        await dark.page.goto(`${main.url}/settings/api-keys`);
        await screenshot(dark.page, `console-${mode}-api-keys-dark`, { dir: RUN_SHOTS });
        dark.problems.expectNone('the dark-mode pages');
      } finally {
        await dark.context.close();
      }
    },
    TEST_TIMEOUT,
  );

  it(
    '8. the audit log shows who did what with which credential, and filters it',
    async () => {
      const { page } = web;
      const sample = await keyByApi(main, 'Audit sample', ['keys:read']);
      await signIn(page, main, main.owner, `/settings/api-keys/${sample.id}`);
      await page.getByRole('button', { name: 'Disable' }).click();
      await page.waitForURL((url) => url.searchParams.get('notice') === 'key-disabled');

      await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Audit log' }).click();
      await page.waitForURL((url) => url.pathname === '/settings/audit-log');
      expect(await heading(page)).toBe('Audit log');
      const rows = page.locator('tbody tr');
      const ofSample = rows.filter({ has: page.locator('td[data-label="Target"]', { hasText: sample.id }) });
      const described = async (row: Locator) => ({
        action: (await row.locator('td[data-label="Action"]').textContent())?.trim(),
        who: (await row.locator('td[data-label="Who"]').textContent())?.trim(),
        with: (await row.locator('td[data-label="With"]').textContent())?.trim(),
      });
      const sampleEvents = await Promise.all((await ofSample.all()).map(described));
      expect(sampleEvents).toEqual(
        expect.arrayContaining([
          { action: 'api_key.created', who: main.owner.email, with: 'an API key' },
          { action: 'api_key.updated', who: main.owner.email, with: 'the console' },
        ]),
      );
      await look(page, 'the audit log', 'audit-log');

      await page.getByLabel('With').selectOption('session');
      await page.getByLabel('Action').selectOption('api_key.updated');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForURL((url) => url.searchParams.get('action') === 'api_key.updated' && url.searchParams.get('credential') === 'session');
      const filtered = await Promise.all((await rows.all()).map(described));
      expect(filtered.length).toBeGreaterThan(0);
      expect(new Set(filtered.map((e) => `${e.action} with ${e.with}`))).toEqual(new Set(['api_key.updated with the console']));
      expect(await ofSample.count()).toBe(1);
      expect(await page.getByLabel('Action').inputValue()).toBe('api_key.updated');
      await look(page, 'the audit log, filtered', 'audit-log-filtered');
    },
    TEST_TIMEOUT,
  );
});
