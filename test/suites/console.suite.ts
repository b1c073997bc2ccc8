/**
 * The console over HTTP, on the memory stores and on MongoDB + Redis: signing in (and the
 * protections every sign-in has), the session cookie, CSRF on every form, every page's headers,
 * and the pages' actions on the same services as the API — a key made on the page works at the
 * API and stops working when deleted on the page; a viewer gets no create button and a forged
 * post is 403; an admin sees and revokes another member's connected app; the audit log is for
 * owners and admins, filtered; names are escaped.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { operatorActor } from '../../src/services/accounts/operator-actor.ts';
import { ConsoleClient } from '../support/console-client.ts';
import { startApi, type ApiHarness, type StoreMode } from '../support/api-harness.ts';
import { recordSecret } from '../support/log-capture.ts';
import { uniqueName } from '../support/unique.ts';

const PASSWORD = recordSecret('a long enough password, really');

export function describeConsole(mode: StoreMode): void {
  let h: ApiHarness;
  const people: Record<'owner' | 'admin' | 'editor' | 'viewer', { email: string; userId: string }> = {} as never;
  let connectorId: string;

  beforeAll(async () => {
    h = await startApi(mode, { TESSERA_AUTH_FAILURES_PER_MINUTE: '100000' });
    for (const role of ['owner', 'admin', 'editor', 'viewer'] as const) {
      const email = `${uniqueName(role)}@example.com`;
      const user = await h.tessera.services.accounts.createUser({ email, password: PASSWORD, name: role });
      await h.tessera.services.accounts.setMembership(user.id, h.orgA, role);
      people[role] = { email, userId: user.id };
    }
    // The owner is also in organization B, for the switcher.
    await h.tessera.services.accounts.setMembership(people.owner.userId, h.orgB, 'viewer');
    connectorId = (await h.tessera.services.clients.create({ name: 'Zapier', type: 'connector', redirectUris: ['https://zapier.example/cb'], scopes: ['leads:read'] })).client.id;
  });
  afterAll(async () => {
    await h.close();
  });

  /** A key of one of the console's people, made as an operator would. */
  const keyOf = async (role: keyof typeof people, name = 'made by the operator') => {
    const actor = await operatorActor(h.tessera.stores, h.tessera.services.catalog, people[role].userId, h.orgA);
    const issued = await h.tessera.services.apiKeys.create(actor, { name });
    recordSecret(issued.secret);
    return issued;
  };

  const signedIn = async (role: keyof typeof people): Promise<ConsoleClient> => {
    const client = new ConsoleClient(h.url);
    const page = await client.signIn(people[role].email, PASSWORD);
    expect(page.url.pathname).toBe('/settings/api-keys');
    return client;
  };

  describe(`${mode}: signing in`, () => {
    it('sends a visit without a session to the sign-in page, and back there after signing in', async () => {
      const client = new ConsoleClient(h.url);
      const page = await client.get('/settings/connected-apps');
      expect(page.url.pathname).toBe('/sign-in');
      expect(page.url.searchParams.get('return_to')).toBe('/settings/connected-apps');
      const after = await client.signIn(people.editor.email, PASSWORD, `/sign-in?return_to=${encodeURIComponent('/settings/connected-apps')}`);
      expect({ status: after.status, path: after.url.pathname }).toEqual({ status: 200, path: '/settings/connected-apps' });
    });

    it('sets an HttpOnly, SameSite=Lax session cookie, and never returns to another site', async () => {
      const client = new ConsoleClient(h.url);
      await client.signIn(people.editor.email, PASSWORD, `/sign-in?return_to=${encodeURIComponent('https://evil.example/')}`);
      expect(client.page!.url.pathname).toBe('/settings/api-keys');
      const cookie = client.setCookies.find((c) => c.startsWith('tessera_session='))!;
      expect(cookie).toMatch(/; httponly/i);
      expect(cookie).toMatch(/; samesite=lax/i);
      expect(cookie).not.toMatch(/; secure/i); // plain HTTP here; over TLS it is Secure
      for (const target of ['//evil.example/x', '/settings/../../oauth', 'javascript:alert(1)']) {
        const other = new ConsoleClient(h.url);
        await other.signIn(people.editor.email, PASSWORD, `/sign-in?return_to=${encodeURIComponent(target)}`);
        expect(other.page!.url.pathname).toBe('/settings/api-keys');
      }
    });

    it('refuses a wrong password with the same words for an unknown email, and a form without its token', async () => {
      const client = new ConsoleClient(h.url);
      const wrong = await client.signIn(people.editor.email, 'not the password');
      const unknown = await client.signIn('nobody@example.com', 'not the password');
      expect([wrong.status, unknown.status]).toEqual([401, 401]);
      expect(wrong.body).toContain('Wrong email or password.');
      expect(unknown.body).toContain('Wrong email or password.');
      const forged = new ConsoleClient(h.url);
      const page = await forged.post('/sign-in', { email: people.editor.email, password: PASSWORD }, null);
      expect(page.status).toBe(403);
      expect(forged.cookies.has('tessera_session')).toBe(false);
    });

    it('throttles sign-in failures, as the OAuth sign-in does', async () => {
      const strict = await startApi(mode, { TESSERA_AUTH_FAILURES_PER_MINUTE: '3' });
      try {
        const client = new ConsoleClient(strict.url);
        const email = `${uniqueName('target')}@example.com`;
        const statuses = [];
        for (let i = 0; i < 4; i++) statuses.push((await client.signIn(email, 'guess')).status);
        expect(statuses).toEqual([401, 401, 401, 429]);
        expect(Number(client.page!.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(client.page!.body).toContain('Too many attempts.');
      } finally {
        await strict.close();
      }
    });

    it('makes a new session at every sign-in, ending the one the browser had (session fixation)', async () => {
      const client = await signedIn('editor');
      const first = client.cookies.get('tessera_session')!;
      await client.signIn(people.editor.email, PASSWORD);
      const second = client.cookies.get('tessera_session')!;
      expect(second).not.toBe(first);
      const old = new ConsoleClient(h.url);
      old.cookies.set('tessera_session', first);
      expect((await old.get('/settings/api-keys')).url.pathname).toBe('/sign-in');
    });

    it('signs out: the cookie is cleared and the session refused everywhere', async () => {
      const client = await signedIn('editor');
      const token = client.cookies.get('tessera_session')!;
      await client.get('/settings/api-keys');
      await client.post('/sign-out');
      expect(client.page!.url.pathname).toBe('/sign-in');
      const replay = new ConsoleClient(h.url);
      replay.cookies.set('tessera_session', token);
      expect((await replay.get('/settings/api-keys')).url.pathname).toBe('/sign-in');
    });
  });

  describe(`${mode}: every page`, () => {
    it('sends a strict policy, no caching and no Referer', async () => {
      const client = await signedIn('owner');
      for (const path of ['/settings/api-keys', '/settings/api-keys/new', '/settings/connected-apps', '/settings/audit-log', '/sign-in']) {
        const page = await client.get(path);
        const csp = page.headers.get('content-security-policy') ?? '';
        expect({ path, status: page.status }).toEqual({ path, status: 200 });
        expect(csp).toMatch(/default-src 'none'/);
        expect(csp).toMatch(/frame-ancestors 'none'/);
        expect(csp).toMatch(/script-src 'nonce-[A-Za-z0-9+/=]+'/);
        expect(csp).toMatch(/form-action 'self'/);
        expect(page.headers.get('cache-control')).toBe('no-store');
        expect(page.headers.get('referrer-policy')).toBe('no-referrer');
        expect(page.headers.get('x-frame-options')).toBe('DENY');
        const nonce = /script-src 'nonce-([^']+)'/.exec(csp)![1]!;
        expect(page.body).toContain(`<script nonce="${nonce}">`);
      }
    });

    it('refuses a form posted without the session’s token, or with another session’s', async () => {
      const editor = await signedIn('editor');
      const key = await keyOf('editor');
      await editor.get('/settings/api-keys');
      const mine = editor.csrf();
      const other = await signedIn('editor');
      await other.get('/settings/api-keys');
      expect((await editor.post(`/settings/api-keys/${key.record.id}/disable`, {}, null)).status).toBe(403);
      expect((await editor.post(`/settings/api-keys/${key.record.id}/disable`, {}, other.csrf())).status).toBe(403);
      expect((await h.tessera.stores.apiKeys.findById(key.record.id))!.active).toBe(true);
      // The page's own token works.
      expect((await editor.post(`/settings/api-keys/${key.record.id}/disable`, {}, mine)).status).toBe(200);
    });

    it('does nothing for a form posted without a session cookie', async () => {
      const key = await keyOf('editor');
      const anonymous = new ConsoleClient(h.url);
      const page = await anonymous.post(`/settings/api-keys/${key.record.id}/delete`, {}, 'whatever');
      expect(page.url.pathname).toBe('/sign-in');
      expect((await h.tessera.stores.apiKeys.findById(key.record.id))!.revokedAt).toBeNull();
    });
  });

  describe(`${mode}: API keys`, () => {
    it('creates a key shown once, which works at the API, and deletes it with a confirmation that names it', async () => {
      const client = await signedIn('editor');
      await client.get('/settings/api-keys/new');
      const created = await client.post('/settings/api-keys', { name: 'Zapier pipeline', scopes: ['leads:read', 'keys:read'], env: 'live', expires: '' });
      expect(created.status).toBe(201);
      const secret = recordSecret(/<code id="new-key">([^<]+)<\/code>/.exec(created.body)![1]!);
      expect(created.body).toContain('Copy this key now');
      const me = await h.request('GET', '/api/v1/me', { key: secret });
      expect(me).toMatchObject({ status: 200, body: { id: people.editor.userId, scopes: ['keys:read', 'leads:read'] } });
      const id = /href="\/settings\/api-keys\/(key_[A-Za-z0-9]+)"/.exec(created.body)![1]!;
      const detail = await client.get(`/settings/api-keys/${id}`);
      expect(detail.body).toContain('Zapier pipeline');
      expect(detail.body).not.toContain(secret);
      expect((await client.get('/settings/api-keys')).body).not.toContain(secret);
      const confirm = await client.get(`/settings/api-keys/${id}/delete`);
      expect(confirm.body).toContain('Delete “Zapier pipeline”?');
      const deleted = await client.post(`/settings/api-keys/${id}/delete`);
      expect(deleted.url.pathname).toBe('/settings/api-keys');
      expect(deleted.body).toContain('The API key was deleted.');
      expect((await h.request('GET', '/api/v1/me', { key: secret })).status).toBe(401);
      // Both at the same (frozen) time: their order is the ids'.
      expect((await h.tessera.services.audit.historyOf(h.orgA, id, 10)).map((e) => `${e.action} with ${e.credential.kind}`).sort()).toEqual(['api_key.created with session', 'api_key.revoked with session']);
    });

    it('offers only the scopes the role allows, and says why a form was refused, keeping what was typed', async () => {
      const client = await signedIn('editor');
      const form = await client.get('/settings/api-keys/new');
      expect(form.body).toContain('value="leads:write"');
      expect(form.body).not.toContain('value="audit:read"');
      const refused = await client.post('/settings/api-keys', { name: 'too much', scopes: ['audit:read'] });
      expect(refused.status).toBe(403);
      const invalid = await client.post('/settings/api-keys', { name: 'bad\u202Ename', scopes: ['leads:read'] });
      expect(invalid.status).toBe(400);
      expect(invalid.body).toContain('value="bad\u202Ename"'.replace('\u202E', '\u202E'));
    });

    it('edits, disables, enables and rotates a key on its page', async () => {
      const client = await signedIn('editor');
      await client.get('/settings/api-keys/new');
      const created = await client.post('/settings/api-keys', { name: 'to edit', scopes: ['leads:read'] });
      const id = /href="\/settings\/api-keys\/(key_[A-Za-z0-9]+)"/.exec(created.body)![1]!;
      const secret = recordSecret(/<code id="new-key">([^<]+)<\/code>/.exec(created.body)![1]!);
      await client.get(`/settings/api-keys/${id}`);
      expect((await client.post(`/settings/api-keys/${id}`, { name: 'edited', scopes: ['leads:read', 'leads:write'] })).body).toContain('The API key was saved.');
      expect(await h.tessera.stores.apiKeys.findById(id)).toMatchObject({ name: 'edited', scopes: ['leads:read', 'leads:write'] });
      // Its own limits: set, then emptied back to the plan's; a value the API would refuse is refused here too, changing nothing.
      const limited = await client.post(`/settings/api-keys/${id}`, { name: 'edited', scopes: ['leads:read'], rate_limit_per_minute: '30', rate_limit_per_day: '', daily_spend_cap: '5' });
      expect(limited.body).toContain('value="30"');
      expect((await h.tessera.stores.apiKeys.findById(id))?.limits).toEqual({ rateLimitPerMinute: 30, rateLimitPerDay: null, dailySpendCap: 5 });
      const bad = await client.post(`/settings/api-keys/${id}`, { name: 'renamed', scopes: ['leads:read'], rate_limit_per_minute: '1.5', rate_limit_per_day: '', daily_spend_cap: '' });
      expect(bad.status).toBe(400);
      expect(bad.body).toContain('rate_limit_per_minute');
      expect(await h.tessera.stores.apiKeys.findById(id)).toMatchObject({ name: 'edited', limits: { rateLimitPerMinute: 30, dailySpendCap: 5 } });
      await client.post(`/settings/api-keys/${id}`, { name: 'edited', scopes: ['leads:read', 'leads:write'], rate_limit_per_minute: '', rate_limit_per_day: '', daily_spend_cap: '' });
      expect((await h.tessera.stores.apiKeys.findById(id))?.limits).toEqual({ rateLimitPerMinute: null, rateLimitPerDay: null, dailySpendCap: null });
      await client.post(`/settings/api-keys/${id}/disable`);
      expect((await h.request('GET', '/api/v1/me', { key: secret })).status).toBe(401);
      await client.post(`/settings/api-keys/${id}/enable`);
      expect((await h.request('GET', '/api/v1/me', { key: secret })).status).toBe(200);
      const rotated = await client.post(`/settings/api-keys/${id}/rotate`, { grace_period_seconds: '0' });
      expect(rotated.status).toBe(201);
      const next = recordSecret(/<code id="new-key">([^<]+)<\/code>/.exec(rotated.body)![1]!);
      expect((await h.request('GET', '/api/v1/me', { key: next })).status).toBe(200);
      expect((await h.request('GET', '/api/v1/me', { key: secret })).status).toBe(401);
    });

    it('shows a viewer no create button, and refuses its forged post', async () => {
      const client = await signedIn('viewer');
      const list = await client.get('/settings/api-keys');
      expect(list.body).not.toContain('Create API key');
      expect((await client.get('/settings/api-keys/new')).status).toBe(403);
      const forged = await client.post('/settings/api-keys', { name: 'sneaky', scopes: ['leads:read'] });
      expect(forged.status).toBe(403);
      expect((await h.tessera.stores.apiKeys.listForOrg(h.orgA)).some((k) => k.name === 'sneaky')).toBe(false);
    });

    it('renders a name that holds markup as text', async () => {
      const key = await keyOf('editor', '<script>alert(1)</script>');
      const client = await signedIn('editor');
      for (const path of ['/settings/api-keys', `/settings/api-keys/${key.record.id}`, `/settings/api-keys/${key.record.id}/delete`]) {
        const page = await client.get(path);
        expect(page.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
        expect(page.body).not.toContain('<script>alert(1)');
      }
    });

    it('shows owners and admins every key of the organization with its member, and others their own', async () => {
      const editorKey = await keyOf('editor', 'editor’s key');
      const admin = await signedIn('admin');
      expect((await admin.get('/settings/api-keys')).body).toContain(`/settings/api-keys/${editorKey.record.id}`);
      const viewer = await signedIn('viewer');
      expect((await viewer.get('/settings/api-keys')).body).not.toContain(editorKey.record.id);
      expect((await viewer.get(`/settings/api-keys/${editorKey.record.id}`)).status).toBe(404);
    });
  });

  describe(`${mode}: connected apps and the audit log`, () => {
    it('lets a person revoke their connected app, and an admin any member’s in the organization view', async () => {
      const mine = await h.connectApp({ userId: people.editor.userId, role: 'editor' }, connectorId);
      const editor = await signedIn('editor');
      expect((await editor.get('/settings/connected-apps')).body).toContain(`/settings/connected-apps/${mine.grantId}/revoke`);
      expect((await editor.get(`/settings/connected-apps/${mine.grantId}/revoke`)).body).toContain('Zapier will lose access at once');
      await editor.post(`/settings/connected-apps/${mine.grantId}/revoke`);
      expect(editor.page!.body).toContain('The app was disconnected.');
      expect((await h.request('GET', '/api/v1/me', { key: mine.token })).status).toBe(401);

      const theirs = await h.connectApp({ userId: people.editor.userId, role: 'editor' }, connectorId);
      const admin = await signedIn('admin');
      expect((await admin.get('/settings/connected-apps')).body).not.toContain(theirs.grantId);
      const all = await admin.get('/settings/connected-apps?all=true');
      expect(all.body).toContain(theirs.grantId);
      expect(all.body).toContain(people.editor.email);
      await admin.get(`/settings/connected-apps/${theirs.grantId}/revoke`);
      await admin.post(`/settings/connected-apps/${theirs.grantId}/revoke`);
      expect((await h.request('GET', '/api/v1/me', { key: theirs.token })).status).toBe(401);
    });

    it('shows the audit log to owners and admins only, filtered by who, with what and which action', async () => {
      expect((await (await signedIn('editor')).get('/settings/audit-log')).status).toBe(403);
      const owner = await signedIn('owner');
      const all = await owner.get('/settings/audit-log');
      expect(all.status).toBe(200);
      const filtered = await owner.get(`/settings/audit-log?actor=${people.editor.userId}&credential=session&action=api_key.created`);
      const actions = [...filtered.body.matchAll(/<td data-label="Action"><code>([^<]+)<\/code>/g)].map((m) => m[1]);
      expect(actions.length).toBeGreaterThan(0);
      expect(new Set(actions)).toEqual(new Set(['api_key.created']));
      expect((await owner.get('/settings/audit-log?action=nonsense')).status).toBe(400);
    });

    it('switches organization, and only to one of the person’s own', async () => {
      const owner = await signedIn('owner');
      await owner.get('/settings/api-keys');
      await owner.post('/settings/organization', { org_id: h.orgB, return_to: '/settings/connected-apps' });
      expect(owner.page!.url.pathname).toBe('/settings/connected-apps');
      expect(owner.page!.body).toContain('(viewer)');
      expect((await owner.post('/settings/organization', { org_id: 'org_somebody_else' })).status).toBe(404);
    });
  });
}
