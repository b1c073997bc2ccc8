/**
 * Conformance suites (test/integration/conformance/): one per product document in
 * ../shared/seeds/, each running Tessera with that product's profile (config/profiles/) and
 * checking every concrete statement of the document, each test named by the words it checks.
 * A statement about the product's own API is checked through the resource-server kit, mounted
 * on a small product API here (`productApi`). A statement outside an identity service's job is
 * listed as out of scope with one line why; the suite ends with its counts, which must be the
 * ones the README's conformance table shows, and writes both lists to
 * test-logs/conformance/<product>.md. The suites share the rest too: the profile's refusals read
 * from its file (`refusalsOf`), and the console's people and steps as the documents walk them
 * through (`person`, `signedIn`, `askedToSignIn`, `createInConsole`, `expectShownOnce`, …).
 *
 *   const doc = conformance('FlowMind');
 *   doc.statement('Every request must include your API key in the Authorization header', async () => { … });
 *   doc.outOfScope('Use API keys in client-side JavaScript', 'advice to the product's users; nothing to serve');
 *   doc.ends();
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect, it } from '@jest/globals';
import Koa from 'koa';
import Router from '@koa/router';
import { createVerifier, requireBearer, type Verifier } from '../../kit/index.ts';
import type { Tessera } from '../../src/app.ts';
import { ROLES, type Role } from '../../src/domain/accounts.ts';
import type { FailureReason, Profile } from '../../src/domain/profile.ts';
import type { ApiHarness, Member } from './api-harness.ts';
import { ConsoleClient, type ConsolePage } from './console-client.ts';
import { serve } from './http-client.ts';
import { recordSecret, testLogDir } from './log-capture.ts';
import { uniqueName } from './unique.ts';

const ROOT = resolve(import.meta.dirname, '../..');

export interface Conformance {
  /** One concrete statement of the document, quoted (a few words), and the test that checks it. */
  statement(quote: string, check: () => Promise<void>, timeoutMs?: number): void;
  /** A statement outside an identity service's job, and one line why. */
  outOfScope(quote: string, why: string): void;
  /** The suite's last test: its counts are the README table's row for the product. */
  ends(): void;
}

/** The README's conformance table: `| Product | checked | out of scope |` rows. */
function readmeRow(product: string): { checked: number; outOfScope: number } | null {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const row = new RegExp(`^\\| ${product} \\| (\\d+) \\| (\\d+) \\|`, 'm').exec(readme);
  return row ? { checked: Number(row[1]), outOfScope: Number(row[2]) } : null;
}

export function conformance(product: string): Conformance {
  const checked: string[] = [];
  const outside: Array<{ quote: string; why: string }> = [];
  return {
    statement(quote, check, timeoutMs) {
      if (checked.includes(quote)) throw new Error(`statement quoted twice: ${quote}`);
      checked.push(quote);
      it(`“${quote}”`, check, timeoutMs);
    },
    outOfScope(quote, why) {
      outside.push({ quote, why });
    },
    ends() {
      it(`ends with the counts the README shows: statements checked and out of scope`, () => {
        // The run's list, for a reader of the logs: what was checked and what was not, and why.
        const report = [
          `# ${product}: ${checked.length} statements checked, ${outside.length} out of scope`,
          '',
          ...checked.map((q) => `- checked: “${q}”`),
          ...outside.map((o) => `- out of scope: “${o.quote}” — ${o.why}`),
        ].join('\n');
        // Beside the logs, not among them: the report quotes the document, whose example keys a
        // test presents (and so records as secrets for the leak scan of the logs).
        const dir = join(testLogDir(), 'conformance');
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, `${product.toLowerCase()}.md`), `${report}\n`);
        expect({ product, row: readmeRow(product) }).toEqual({ product, row: { checked: checked.length, outOfScope: outside.length } });
      });
    },
  };
}

export interface ProductApi {
  url: string;
  verifier: Verifier;
  close(): Promise<void>;
}

/**
 * The product's own API: a Koa app whose routes the kit guards with a verifier registered in
 * `target` (a Tessera on a port) as a resource server — bound to `options.orgId`'s bearers when
 * given — learning the profile from Tessera's /.well-known/tessera-profile.
 * `routes` gets the router and the guard (`guard(['goals:read'], cost)`).
 */
export async function productApi(
  target: { url: string; tessera: Tessera },
  routes: (router: Router, guard: (scopes?: string[], cost?: number) => Koa.Middleware) => void,
  options: { name?: string; orgId?: string | null } = {},
): Promise<ProductApi> {
  const { name = 'Product API', orgId } = options;
  const issued = await target.tessera.services.clients.create({ name, type: 'resource_server', ...(orgId === undefined ? {} : { orgId }) });
  const verifier = createVerifier({ url: target.url, clientId: issued.client.id, clientSecret: recordSecret(issued.secret) });
  const router = new Router();
  routes(router, (scopes = [], cost = 0) => requireBearer(verifier, { scopes, ...(cost > 0 ? { cost } : {}) }));
  const app = new Koa();
  app.use(router.routes());
  const running = await serve(app);
  return { url: running.url, verifier, close: () => running.close() };
}

/** A request to any URL with a bearer (or a raw Authorization header): status, headers and JSON body. */
export async function call(url: string, options: { key?: string; authorization?: string; method?: string; body?: unknown } = {}): Promise<{ status: number; headers: Headers; body: unknown }> {
  const authorization = options.authorization ?? (options.key === undefined ? undefined : `Bearer ${options.key}`);
  const res = await fetch(url, {
    method: options.method ?? 'GET',
    headers: { ...(authorization === undefined ? {} : { authorization: recordSecret(authorization) }), ...(options.body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

// ---------------------------------------------------------------------------------------------
// The product's profile, as its file says it: the suites' own reading, not Tessera's.

/** config/profiles/<name>.json. */
export function profileOf(name: string): Profile {
  return JSON.parse(readFileSync(join(ROOT, 'config/profiles', `${name}.json`), 'utf8')) as Profile;
}

type Fields = Record<string, string | number>;

export interface Refusals {
  /** The refusal the profile fixes for a reason: its status, and its body template filled. */
  refusal(reason: FailureReason, fields?: Fields): { status: number; body: unknown };
  /** A response is the profile's refusal for `reason` (a 401 with `WWW-Authenticate: Bearer`); `what` names it in a failure. */
  expectRefused(res: { status: number; headers: Headers; body: unknown }, reason: FailureReason, fields?: Fields, what?: string): void;
}

export function refusalsOf(profile: Profile): Refusals {
  const refusal = (reason: FailureReason, fields: Fields = {}): { status: number; body: unknown } => {
    const rule = profile.errors.refusals[reason];
    const message = rule.message.replace(/\{(\w+)\}/g, (_, name: string) => String(fields[name]));
    const text = (value: string) => JSON.stringify(value).slice(1, -1);
    const body = JSON.parse(JSON.stringify(profile.errors.body).replace('{code}', text(rule.code)).replace('{message}', text(message))) as unknown;
    return { status: rule.status, body };
  };
  return {
    refusal,
    expectRefused(res, reason, fields = {}, what = '') {
      const expected = refusal(reason, fields);
      expect({ what, status: res.status, body: res.body }).toEqual({ what, ...expected });
      if (expected.status === 401) expect({ what, challenge: res.headers.get('www-authenticate') }).toEqual({ what, challenge: 'Bearer' });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The console, at the HTTP level: its people, and the steps the documents walk them through.

/** The password of every person the suites make (recorded for the log scan). */
export const PASSWORD = recordSecret('a long enough password for the console');

/** A member who signs in to the console. */
export interface Person extends Member {
  email: string;
}

/** A member of `orgId` (organization A unless said) with a password, who signs in to the console. */
export async function person(h: ApiHarness, role: Role, orgId = h.orgA): Promise<Person> {
  const email = `${uniqueName(role)}@example.com`;
  const user = await h.tessera.services.accounts.createUser({ email, password: PASSWORD, name: role });
  await h.tessera.services.accounts.setMembership(user.id, orgId, role);
  return { email, userId: user.id, role };
}

/** A person of every role in organization A. */
export async function peopleOf(h: ApiHarness): Promise<Record<Role, Person>> {
  const all = {} as Record<Role, Person>;
  for (const role of ROLES) all[role] = await person(h, role);
  return all;
}

function expectKeysPageReached(page: ConsolePage): void {
  expect({ status: page.status, path: page.url.pathname }).toEqual({ status: 200, path: '/settings/api-keys' });
}

/** `who`, signed in on the sign-in page: a console on Settings → API Keys, where signing in leads. */
export async function signedIn(h: { url: string }, who: { email: string }): Promise<ConsoleClient> {
  const client = new ConsoleClient(h.url);
  expectKeysPageReached(await client.signIn(who.email, PASSWORD));
  return client;
}

/** Settings → API Keys, asked for signed out: the sign-in page in the product's name, which leads back there. */
export async function askedToSignIn(client: ConsoleClient, product: string): Promise<ConsolePage> {
  const asked = await client.get('/settings/api-keys');
  expect({ path: asked.url.pathname, returnTo: asked.url.searchParams.get('return_to'), heading: asked.body.includes(`<h1>Sign in to ${product}</h1>`) }).toEqual({
    path: '/sign-in',
    returnTo: '/settings/api-keys',
    heading: true,
  });
  return asked;
}

/** `who` signs in on the sign-in page `asked`, and is back on Settings → API Keys: that page. */
export async function signInOn(client: ConsoleClient, asked: ConsolePage, who: { email: string }): Promise<ConsolePage> {
  const page = await client.signIn(who.email, PASSWORD, `${asked.url.pathname}${asked.url.search}`);
  expectKeysPageReached(page);
  return page;
}

/**
 * The API keys page, as Settings → API Keys shows it: the settings navigation's link to it, its
 * title and heading in the product's name, and each key of `listed` linked to its page by name.
 */
export function expectKeysPage(page: ConsolePage, product: string, listed: Array<{ id: string; name: string | null }> = []): void {
  expectKeysPageReached(page);
  const settings = /<nav[^>]*aria-label="Settings"[^>]*>(.*?)<\/nav>/s.exec(page.body)?.[1] ?? '';
  expect(settings).toMatch(/<a href="\/settings\/api-keys"[^>]*>API keys<\/a>/);
  expect(page.body).toContain(`<title>API keys · ${product}</title>`);
  expect(page.body).toContain('<h1>API keys</h1>');
  for (const key of listed) expect(page.body).toContain(`<a href="/settings/api-keys/${key.id}">${key.name}</a>`);
}

/** The API keys page's button, labelled in the document's words, and the form it opens. */
export async function formFromButton(client: ConsoleClient, label: string): Promise<ConsolePage> {
  expect((await client.get('/settings/api-keys')).body).toContain(`<a class="button" href="/settings/api-keys/new">${label}</a>`);
  const form = await client.get('/settings/api-keys/new');
  expect(form.status).toBe(200);
  return form;
}

function found(pattern: RegExp, html: string, what: string): string {
  const match = pattern.exec(html)?.[1];
  if (match === undefined) throw new Error(`no ${what} on the page`);
  return match;
}

/** The key a page shows once (`<code id="new-key">`), recorded for the log scan. */
export const newKeyOf = (html: string): string => recordSecret(found(/<code id="new-key">([^<]+)<\/code>/, html, 'new key'));
/** The id of the first key a page links to. */
export const keyIdOf = (html: string): string => found(/href="\/settings\/api-keys\/(key_[A-Za-z0-9]+)"/, html, 'key link');

/** A key made on the console's form. */
export interface ConsoleKey {
  /** The page that shows it, once. */
  page: ConsolePage;
  id: string;
  secret: string;
}

/** Settings → API Keys → the form, posted as it comes (a live key that never expires) with `fields`: 201, and the key. */
export async function createInConsole(client: ConsoleClient, fields: Record<string, string | string[]>): Promise<ConsoleKey> {
  await client.get('/settings/api-keys/new');
  const page = await client.post('/settings/api-keys', { env: 'live', expires: '', ...fields });
  expect(page.status).toBe(201);
  return { page, id: keyIdOf(page.body), secret: newKeyOf(page.body) };
}

/**
 * A key made on the console is shown once: on the page that made it, with a button to copy it,
 * and on no page of the console after it (the list, its page, its revoke page, the form).
 */
export async function expectShownOnce(client: ConsoleClient, made: ConsoleKey): Promise<void> {
  expect(made.page.body).toContain(`<code id="new-key">${made.secret}</code>`);
  expect(made.page.body).toContain('data-copy="new-key"');
  for (const path of ['/settings/api-keys', `/settings/api-keys/${made.id}`, `/settings/api-keys/${made.id}/delete`, '/settings/api-keys/new']) {
    const later = await client.get(path);
    expect({ path, status: later.status, shown: later.body.includes(made.secret) }).toEqual({ path, status: 200, shown: false });
  }
}
