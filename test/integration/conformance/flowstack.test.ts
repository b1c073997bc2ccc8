/**
 * FlowStack's public document "Authentication" (../shared/seeds/002_f037ef47df887fca.txt), checked
 * against Tessera run with the FlowStack profile (config/profiles/flowstack.json) on the memory
 * stores: fs_live_/fs_test_ keys, Read/Write/Admin scopes (admin ⊃ write ⊃ read), the console
 * steps (sign in, Settings → API Keys, create, copy once, find, revoke), and the product's own
 * API (/api/v1/flows, runs, connections, team) guarded by the resource-server kit.
 */
import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import type Router from '@koa/router';
import type Koa from 'koa';
import { principalOf } from '../../../kit/index.ts';
import type { Role } from '../../../src/domain/accounts.ts';
import type { CreateKeyInput } from '../../../src/services/keys/api-key-service.ts';
import { startApi, type ApiHarness, type KeyView } from '../../support/api-harness.ts';
import { askedToSignIn, call, conformance, createInConsole, expectKeysPage, expectShownOnce, formFromButton, peopleOf, productApi, profileOf, refusalsOf, signedIn, signInOn, type Person, type ProductApi } from '../../support/conformance.ts';
import { ConsoleClient, type ConsolePage } from '../../support/console-client.ts';
import { recordSecret } from '../../support/log-capture.ts';
import { uniqueName } from '../../support/unique.ts';

const PROFILE = profileOf('flowstack');
const { expectRefused } = refusalsOf(PROFILE);
const TIMEOUT = 30_000;

/** The product's own API, as FlowStack's document names it: what each route needs of the bearer. */
const ROUTES: Array<{ method: string; path: string; scope: string; ok: number }> = [
  { method: 'GET', path: '/api/v1/flows', scope: 'read', ok: 200 },
  { method: 'GET', path: '/api/v1/runs', scope: 'read', ok: 200 },
  { method: 'GET', path: '/api/v1/connections', scope: 'read', ok: 200 },
  { method: 'POST', path: '/api/v1/flows', scope: 'write', ok: 201 },
  { method: 'PATCH', path: '/api/v1/flows/flow_1', scope: 'write', ok: 200 },
  { method: 'DELETE', path: '/api/v1/flows/flow_1', scope: 'write', ok: 204 },
  { method: 'GET', path: '/api/v1/team/members', scope: 'admin', ok: 200 },
  { method: 'POST', path: '/api/v1/team/invitations', scope: 'admin', ok: 201 },
];

const doc = conformance('FlowStack');

describe('FlowStack: Authentication', () => {
  let h: ApiHarness;
  let api: ProductApi;
  let people: Record<Role, Person>;

  beforeAll(async () => {
    h = await startApi('memory', { TESSERA_PROFILE: 'flowstack', TESSERA_AUTH_FAILURES_PER_MINUTE: '100000' });
    people = await peopleOf(h);
    api = await productApi(h, (router: Router, guard: (scopes?: string[], cost?: number) => Koa.Middleware) => {
      for (const route of ROUTES) {
        router.register(route.path, [route.method], [
          guard([route.scope]),
          (ctx: Koa.Context) => {
            const p = principalOf(ctx);
            ctx.status = route.ok;
            if (route.ok !== 204) ctx.body = { data: [], org_id: p.org_id, key_id: p.key_id, env: p.env, scopes: p.scopes };
          },
        ]);
      }
    });
  }, 60_000);
  afterAll(async () => {
    await api?.close();
    await h?.close();
  });

  /** A key of one of the console's people, made as an operator would (not counted anywhere). */
  const keyOf = async (role: Role, input: CreateKeyInput = {}): Promise<string> => (await h.keyFor(people[role], input)).secret;
  const product = (path: string, options: { key?: string; authorization?: string; method?: string } = {}) => call(`${api.url}${path}`, options);
  const apiCreate = async (key: string, body: Record<string, unknown>) => {
    const res = await h.request('POST', '/api/v1/api-keys', { key, body });
    expect(res.status).toBe(201);
    return res.body as KeyView;
  };
  const keyScopes = async (id: string) => (await h.tessera.stores.apiKeys.findById(id))!.scopes;

  doc.statement(
    'All FlowStack API requests require authentication using a Bearer token',
    async () => {
      const key = await keyOf('owner', { scopes: ['admin'] });
      for (const route of ROUTES) {
        const what = `${route.method} ${route.path}`;
        expectRefused(await product(route.path, { method: route.method }), 'missing', {}, `${what} without credentials`);
        for (const authorization of [`Basic ${Buffer.from(`${key}:`).toString('base64')}`, `Token ${key}`, key]) {
          expectRefused(await product(route.path, { method: route.method, authorization }), 'missing', {}, `${what} with ${authorization.split(' ')[0] === key ? 'the bare key' : authorization.split(' ')[0]}`);
        }
        expect({ what, status: (await product(route.path, { method: route.method, key })).status }).toEqual({ what, status: route.ok });
      }
    },
    TIMEOUT,
  );

  doc.statement(
    'Log in',
    async () => {
      const client = new ConsoleClient(h.url);
      const asked = await askedToSignIn(client, 'FlowStack');
      const wrong = await client.signIn(people.editor.email, 'not the password', `${asked.url.pathname}${asked.url.search}`);
      expect(wrong.status).toBe(401);
      expect(client.cookies.has('tessera_session')).toBe(false);
      await signInOn(client, asked, people.editor);
      expect(client.cookies.has('tessera_session')).toBe(true);
    },
    TIMEOUT,
  );

  doc.statement(
    'Go to Settings → API Keys',
    async () => {
      const teammate = await h.keyFor(people.editor, { name: uniqueName('editor key') });
      const client = await signedIn(h, people.owner);
      // The owner's page lists the organization's keys, a teammate's included.
      expectKeysPage(await client.get('/settings/api-keys'), PROFILE.product, [teammate.record]);
    },
    TIMEOUT,
  );

  doc.statement(
    'Click + Create API Key',
    async () => {
      const client = await signedIn(h, people.editor);
      const form = await formFromButton(client, '+ Create API Key');
      expect(form.body).toContain('<form method="post" action="/settings/api-keys"');
    },
    TIMEOUT,
  );

  doc.statement(
    'Enter a descriptive name (e.g., "Production Backend", "CI/CD Pipeline")',
    async () => {
      const client = await signedIn(h, people.editor);
      const admin = await keyOf('editor', { scopes: ['write'] });
      for (const name of ['Production Backend', 'CI/CD Pipeline']) {
        const { id } = await createInConsole(client, { name, scopes: ['read'] });
        expect((await client.get('/settings/api-keys')).body).toContain(`<a href="/settings/api-keys/${id}">${name}</a>`);
        const view = (await h.request('GET', `/api/v1/api-keys/${id}`, { key: admin })).body as KeyView;
        expect(view.name).toBe(name);
      }
    },
    TIMEOUT,
  );

  doc.statement(
    'Select the scope',
    async () => {
      const offered = (page: ConsolePage) => ['read', 'write', 'admin'].filter((scope) => page.body.includes(`name="scopes" value="${scope}"`));
      const owner = await signedIn(h, people.owner);
      expect(offered(await owner.get('/settings/api-keys/new'))).toEqual(['read', 'write', 'admin']);
      const chosen = await createInConsole(owner, { name: 'chosen scope', scopes: ['write'] });
      expect(await keyScopes(chosen.id)).toEqual(['write']);

      // An editor may select Read or Write, never Admin: not offered, and refused when posted.
      const editor = await signedIn(h, people.editor);
      expect(offered(await editor.get('/settings/api-keys/new'))).toEqual(['read', 'write']);
      const editorKey = await keyOf('editor', { scopes: ['write'] });
      const before = (await h.tessera.stores.apiKeys.listForOrg(h.orgA)).length;
      expect((await editor.post('/settings/api-keys', { name: 'too much', scopes: ['admin'], env: 'live', expires: '' })).status).toBe(403);
      expect((await h.request('POST', '/api/v1/api-keys', { key: editorKey, body: { name: 'too much', scopes: ['admin'] } })).status).toBe(403);
      expect((await h.tessera.stores.apiKeys.listForOrg(h.orgA)).length).toBe(before);

      // A key made without a scope gets the profile's default, Read — by the API and by the console alike.
      const ownerKey = await keyOf('owner', { scopes: ['admin'] });
      const unscoped = await apiCreate(ownerKey, { name: 'no scope chosen' });
      expect(unscoped.scopes).toEqual(PROFILE.scopes.keyDefault);
      const fromConsole = await createInConsole(owner, { name: 'no scope chosen in the console' });
      expect(await keyScopes(fromConsole.id)).toEqual(PROFILE.scopes.keyDefault);
    },
    TIMEOUT,
  );

  doc.statement(
    'Read — Can only read data (flows, runs, connections)',
    async () => {
      const key = await keyOf('owner', { scopes: ['read'] });
      for (const route of ROUTES) {
        const res = await product(route.path, { method: route.method, key });
        if (route.scope === 'read') expect({ route: route.path, status: res.status }).toEqual({ route: route.path, status: 200 });
        else expectRefused(res, 'insufficient_scope', { scope: route.scope }, `${route.method} ${route.path}`);
      }
      expect((await h.request('GET', '/api/v1/me', { key })).body).toMatchObject({ scopes: ['read'] });
      const made = await h.request('POST', '/api/v1/api-keys', { key, body: { name: 'from a read key' } });
      expectRefused(made, 'insufficient_scope', { scope: 'keys:write' }, 'POST /api/v1/api-keys');
    },
    TIMEOUT,
  );

  doc.statement(
    'Write — Can create, update, and delete resources',
    async () => {
      // The owner's own key: what it may do is its scope's, not the role's.
      const key = await keyOf('owner', { scopes: ['write'] });
      for (const route of ROUTES) {
        const res = await product(route.path, { method: route.method, key });
        if (route.scope === 'admin') expectRefused(res, 'insufficient_scope', { scope: 'admin' }, `${route.method} ${route.path}`);
        else expect({ route: `${route.method} ${route.path}`, status: res.status }).toEqual({ route: `${route.method} ${route.path}`, status: route.ok });
      }
      // Not team management: the organization's audit log is refused.
      expectRefused(await h.request('GET', '/api/v1/audit-events', { key }), 'insufficient_scope', { scope: 'audit:read' }, 'GET /api/v1/audit-events');
    },
    TIMEOUT,
  );

  doc.statement(
    'Admin — Full access including team management',
    async () => {
      const key = await keyOf('owner', { scopes: ['admin'] });
      for (const route of ROUTES) {
        const res = await product(route.path, { method: route.method, key });
        expect({ route: `${route.method} ${route.path}`, status: res.status }).toEqual({ route: `${route.method} ${route.path}`, status: route.ok });
      }
      // Team management in Tessera: the organization's audit log, and every member's keys.
      expect((await h.request('GET', '/api/v1/audit-events', { key })).status).toBe(200);
      const teammate = await h.keyFor(people.editor, { name: uniqueName('teammate'), scopes: ['read'] });
      const listed = (await h.request('GET', '/api/v1/api-keys', { key })).body as KeyView[];
      expect(listed.map((k) => k.id)).toContain(teammate.record.id);
      expect((await h.request('PATCH', `/api/v1/api-keys/${teammate.record.id}`, { key, body: { active: false } })).status).toBe(200);
      expectRefused(await product('/api/v1/flows', { key: teammate.secret }), 'disabled_key', {}, 'the teammate’s disabled key');
    },
    TIMEOUT,
  );

  doc.statement(
    'Click Create',
    async () => {
      const client = await signedIn(h, people.editor);
      const form = await client.get('/settings/api-keys/new');
      expect(form.body).toMatch(/<button type="submit"[^>]*>[^<]*\bCreate\b[^<]*<\/button>/);
      const { id, secret } = await createInConsole(client, { name: 'made by clicking Create', scopes: ['read'] });
      const used = await product('/api/v1/flows', { key: secret });
      expect(used).toMatchObject({ status: 200, body: { key_id: id, org_id: h.orgA, scopes: ['read'] } });
    },
    TIMEOUT,
  );

  doc.statement(
    'Copy the key immediately — it won\'t be shown again',
    async () => {
      const client = await signedIn(h, people.editor);
      const shown = await createInConsole(client, { name: 'shown once', scopes: ['read'] });
      await expectShownOnce(client, shown);
      const { id, secret } = shown;
      const admin = await keyOf('owner', { scopes: ['admin'] });
      for (const path of ['/api/v1/api-keys', `/api/v1/api-keys/${id}`]) {
        const res = await h.request('GET', path, { key: admin });
        expect({ path, status: res.status, shown: res.text.includes(secret) }).toEqual({ path, status: 200, shown: false });
      }
      // The API's creation response is the one answer with the key; reading it later never is.
      const made = await apiCreate(admin, { name: 'by the API', scopes: ['read'] });
      expect(made.key).toMatch(/^fs_live_/);
      const read = await h.request('GET', `/api/v1/api-keys/${made.id}`, { key: admin });
      expect(read.body).not.toHaveProperty('key');
      expect(read.text).not.toContain(made.key!);
    },
    TIMEOUT,
  );

  doc.statement(
    'Include the API key in the Authorization header of every request',
    async () => {
      const key = await keyOf('owner', { scopes: ['read'] });
      // As the curl example sends it.
      const res = await fetch(`${api.url}/api/v1/flows`, { headers: { Authorization: recordSecret(`Bearer ${key}`) } });
      expect(res.status).toBe(200);
      // Anywhere else, and a later request without it, is refused.
      for (const query of ['api_key', 'access_token', 'key']) {
        expectRefused(await product(`/api/v1/flows?${query}=${encodeURIComponent(key)}`), 'missing', {}, `?${query}=`);
      }
      expectRefused(await product('/api/v1/runs'), 'missing', {}, 'the next request without the header');
    },
    TIMEOUT,
  );

  doc.statement(
    'fs_live_ Production API key',
    async () => {
      const admin = await keyOf('owner', { scopes: ['admin'] });
      for (const body of [{ env: 'live' }, {}]) {
        const made = await apiCreate(admin, { name: 'production', scopes: ['read'], ...body });
        expect({ body, key: made.key, start: made.start, env: made.env }).toEqual({
          body,
          key: expect.stringMatching(/^fs_live_[0-9A-Za-z]+$/),
          start: expect.stringMatching(/^fs_live_/),
          env: 'live',
        });
        expect((await h.request('GET', '/api/v1/me', { key: made.key! })).body).toMatchObject({ env: 'live', key_id: made.id });
        expect(await product('/api/v1/flows', { key: made.key! })).toMatchObject({ status: 200, body: { env: 'live', key_id: made.id } });
      }
    },
    TIMEOUT,
  );

  doc.statement(
    'fs_test_ Test/sandbox API key',
    async () => {
      const admin = await keyOf('owner', { scopes: ['admin'] });
      const made = await apiCreate(admin, { name: 'sandbox', scopes: ['read'], env: 'test' });
      expect({ key: made.key, start: made.start, env: made.env }).toEqual({ key: expect.stringMatching(/^fs_test_[0-9A-Za-z]+$/), start: expect.stringMatching(/^fs_test_/), env: 'test' });
      expect((await h.request('GET', '/api/v1/me', { key: made.key! })).body).toMatchObject({ env: 'test', key_id: made.id });
      // The product's API knows a test key for one: it can answer from its sandbox.
      expect(await product('/api/v1/flows', { key: made.key! })).toMatchObject({ status: 200, body: { env: 'test', key_id: made.id } });
      // The console offers both environments.
      const form = await (await signedIn(h, people.editor)).get('/settings/api-keys/new');
      expect(['live', 'test'].filter((env) => form.body.includes(`name="env" value="${env}"`))).toEqual(['live', 'test']);
    },
    TIMEOUT,
  );

  /** A key in use, and a new one made by the API with the same permissions (rotation, by hand). */
  const replacement = async () => {
    const manager = await keyOf('owner', { scopes: ['admin'] });
    const old = await apiCreate(manager, { name: 'backend', scopes: ['write'], env: 'live' });
    const oldView = (await h.request('GET', `/api/v1/api-keys/${old.id}`, { key: manager })).body as KeyView;
    const next = await apiCreate(manager, { name: 'backend (new)', scopes: oldView.scopes, env: oldView.env });
    return { manager, old, next };
  };

  doc.statement(
    'Create a new key with the same permissions',
    async () => {
      const { old, next } = await replacement();
      expect({ scopes: next.scopes, env: next.env }).toEqual({ scopes: old.scopes, env: old.env });
      // Both work at once, so that applications can move over one by one.
      for (const key of [old.key!, next.key!]) {
        for (const route of ROUTES) {
          const res = await product(route.path, { method: route.method, key });
          expect({ route: `${route.method} ${route.path}`, status: res.status }).toEqual({ route: `${route.method} ${route.path}`, status: route.scope === 'admin' ? 403 : route.ok });
        }
      }
    },
    TIMEOUT,
  );

  doc.statement(
    'Verify everything works',
    async () => {
      const { old, next } = await replacement();
      const before = (await h.request('GET', '/api/v1/me', { key: old.key! })).body as Record<string, unknown>;
      const after = await h.request('GET', '/api/v1/me', { key: next.key! });
      expect(after.status).toBe(200);
      expect(after.body).toEqual({ ...before, key_id: next.id });
      expect(await product('/api/v1/flows', { method: 'POST', key: next.key! })).toMatchObject({ status: 201, body: { key_id: next.id, scopes: (before as { scopes: string[] }).scopes } });
    },
    TIMEOUT,
  );

  doc.statement(
    'Delete the old key',
    async () => {
      const { manager, old, next } = await replacement();
      expect((await h.request('DELETE', `/api/v1/api-keys/${old.id}`, { key: manager })).status).toBe(204);
      expectRefused(await product('/api/v1/flows', { key: old.key! }), 'revoked', {}, 'the old key');
      expect((await product('/api/v1/flows', { key: next.key! })).status).toBe(200);
      const listed = ((await h.request('GET', '/api/v1/api-keys', { key: manager })).body as KeyView[]).map((k) => k.id);
      expect({ old: listed.includes(old.id), next: listed.includes(next.id) }).toEqual({ old: false, next: true });
    },
    TIMEOUT,
  );

  doc.statement(
    'Find the key to revoke',
    async () => {
      const manager = await keyOf('owner', { scopes: ['admin'] });
      const kept = await apiCreate(manager, { name: uniqueName('kept'), scopes: ['read'] });
      const leaked = await apiCreate(manager, { name: uniqueName('leaked'), scopes: ['read'] });
      const client = await signedIn(h, people.owner);
      const list = await client.get('/settings/api-keys');
      const rows = [...list.body.matchAll(/<tr>((?:(?!<\/tr>).)*)<\/tr>/gs)].map((m) => m[1]!);
      const rowOf = (view: KeyView) => rows.find((row) => row.includes(`>${view.name}</a>`));
      for (const view of [kept, leaked]) {
        const row = rowOf(view) ?? '';
        expect({ name: view.name, link: row.includes(`href="/settings/api-keys/${view.id}"`), start: row.includes(`${view.start}…`) }).toEqual({ name: view.name, link: true, start: true });
      }
      const page = await client.get(`/settings/api-keys/${leaked.id}`);
      expect(page.body).toContain(`<h1>${leaked.name}</h1>`);
      expect(page.body).toContain(`<code>${leaked.start}…</code>`);
    },
    TIMEOUT,
  );

  doc.statement(
    'Click Revoke',
    async () => {
      const { id } = (await h.keyFor(people.editor, { name: 'to revoke', scopes: ['read'] })).record;
      const client = await signedIn(h, people.editor);
      const keyPage = await client.get(`/settings/api-keys/${id}`);
      // The revoking action the key's page offers, followed to its end.
      await client.get(`/settings/api-keys/${id}/delete`);
      const done = await client.post(`/settings/api-keys/${id}/delete`);
      expect({ status: done.status, path: done.url.pathname }).toEqual({ status: 200, path: '/settings/api-keys' });
      expect(done.body).not.toContain(`/settings/api-keys/${id}"`);
      expect((await h.tessera.stores.apiKeys.findById(id))!.revokedAt).not.toBeNull();
      // …and it is the control the document names: the page's buttons and links, by their words.
      const controls = [...keyPage.body.matchAll(/<(button|a)\b[^>]*>([^<]*)<\/\1>/g)].map((m) => m[2]!.trim());
      expect({ controls }).toEqual({ controls: expect.arrayContaining([expect.stringMatching(/^Revoke\b/i)]) });
    },
    TIMEOUT,
  );

  doc.statement(
    'The key is immediately invalidated — all requests using it will return 401 Unauthorized',
    async () => {
      const { record, secret } = await h.keyFor(people.owner, { name: 'invalidated', scopes: ['admin'] });
      const { id } = record;
      expect((await product('/api/v1/flows', { key: secret })).status).toBe(200);
      expect((await h.request('GET', '/api/v1/me', { key: secret })).status).toBe(200);
      const client = await signedIn(h, people.owner);
      await client.get(`/settings/api-keys/${id}/delete`);
      await client.post(`/settings/api-keys/${id}/delete`);
      // At once: no time passes on the clock.
      for (const route of ROUTES) expectRefused(await product(route.path, { method: route.method, key: secret }), 'revoked', {}, `${route.method} ${route.path}`);
      expectRefused(await h.request('GET', '/api/v1/me', { key: secret }), 'revoked', {}, 'GET /api/v1/me');
      expectRefused(await h.request('GET', '/api/v1/api-keys', { key: secret }), 'revoked', {}, 'GET /api/v1/api-keys');
    },
    TIMEOUT,
  );

  doc.statement(
    'Monitor usage — Check API usage in Settings',
    async () => {
      const issued = await h.keyFor(people.editor, { name: 'monitored', scopes: ['read'] });
      for (const path of ['/api/v1/flows', '/api/v1/runs', '/api/v1/connections']) expect((await product(path, { key: issued.secret })).status).toBe(200);
      const today = h.clock.now().toISOString().slice(0, 10);
      const page = await (await signedIn(h, people.editor)).get(`/settings/api-keys/${issued.record.id}`);
      expect(page.body).toMatch(/Usage/);
      expect(page.body).toContain(`<tr><td>${today}</td><td>3</td>`);
      const usage = await h.request('GET', `/api/v1/api-keys/${issued.record.id}/usage?from=${today}&to=${today}`, { key: await keyOf('editor', { scopes: ['write'] }) });
      expect(usage.body).toEqual({ data: [{ date: today, requests: 3, credits: 0 }] });
    },
    TIMEOUT,
  );

  doc.outOfScope('app.onflowstack.com', 'the product’s own host name: where FlowStack serves its app and API, not an identity service’s');
  doc.outOfScope('Update your applications to use the new key', 'a step in the user’s own deployments; nothing for the identity service to serve');
  doc.outOfScope(
    "'Content-Type': 'application/json' … const data = await response.json()",
    'the product API’s own request and response bodies; only the Authorization header is the identity service’s',
  );
  doc.outOfScope('Never expose keys in client-side code', 'advice to the product’s users; nothing to serve');
  doc.outOfScope('Store keys in FLOWSTACK_API_KEY env var, not in code', 'advice to the product’s users about their own code; nothing to serve');
  doc.outOfScope('Limit scope — Use read-only keys when write access isn\'t needed', 'advice; the read-only scope it relies on is checked above (“Read — Can only read data”)');
  doc.outOfScope('Rotate regularly — Replace keys every 90 days', 'advice: the document sets no expiry, so nothing enforces 90 days');

  doc.ends();
});
