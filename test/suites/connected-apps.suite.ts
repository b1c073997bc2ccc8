/**
 * Settings → Connected apps over HTTP, on the memory stores and on MongoDB + Redis. Grants are
 * recorded through the service as the consent page records them; the OAuth flow itself is
 * covered end to end in test/e2e/oauth-connector.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startApi, type ApiHarness, type Member, type StoreMode } from '../support/api-harness.ts';
import { recordSecret } from '../support/log-capture.ts';
import { describeAuthenticatedRoute } from './authenticated-route.suite.ts';

interface AppView {
  id: string;
  client: { id: string; name: string };
  user_id: string;
  org_id: string;
  scopes: string[];
  createdAt: string;
  lastUsedAt: string | null;
}

export function describeConnectedAppsApi(mode: StoreMode): void {
  let h: ApiHarness;
  let clientId: string;
  beforeAll(async () => {
    h = await startApi(mode, { TESSERA_AUTH_FAILURES_PER_MINUTE: '100000' });
    const issued = await h.tessera.services.clients.create({ name: 'Zapier', redirectUris: ['https://zapier.example/cb'], scopes: ['leads:read'] });
    recordSecret(issued.secret);
    clientId = issued.client.id;
  });
  afterAll(async () => {
    await h.close();
  });

  /** A grant as the consent page records it, with an access token stored for it. */
  const connect = (member: Member, orgId = h.orgA) => h.connectApp(member, clientId, { orgId });

  const list = async (key: string, query = ''): Promise<AppView[]> => (await h.request('GET', `/api/v1/connected-apps${query}`, { key })).body as AppView[];

  describe(`${mode}: GET /api/v1/connected-apps`, () => {
    it('lists the caller’s own connected apps in the organization, with the client’s name', async () => {
      const editor = (await h.keyFor(h.members.editor)).secret;
      const mine = await connect(h.members.editor);
      const theirs = await connect(h.members.admin);
      const views = await list(editor);
      const view = views.find((v) => v.id === mine.grantId);
      expect(view).toEqual({ id: mine.grantId, client: { id: clientId, name: 'Zapier' }, user_id: h.members.editor.userId, org_id: h.orgA, scopes: ['leads:read'], createdAt: h.clock.now().toISOString(), lastUsedAt: null, limits: { rate_limit_per_minute: null, rate_limit_per_day: null, daily_spend_cap: null } });
      expect(views.map((v) => v.id)).not.toContain(theirs.grantId);
      // ?all=true changes nothing for an editor.
      expect((await list(editor, '?all=true')).map((v) => v.id)).not.toContain(theirs.grantId);
    });

    it('shows owners and admins every member’s apps with ?all=true, and never another organization’s', async () => {
      const admin = (await h.keyFor(h.members.admin)).secret;
      const editorApp = await connect(h.members.editor);
      const foreign = await connect(h.members.ownerB, h.orgB);
      const all = (await list(admin, '?all=true')).map((v) => v.id);
      expect(all).toContain(editorApp.grantId);
      expect(all).not.toContain(foreign.grantId);
      expect((await list(admin)).map((v) => v.id)).not.toContain(editorApp.grantId);
      expect((await h.request('GET', '/api/v1/connected-apps?all=yes', { key: admin })).status).toBe(400);
    });

    it('shows when an app was last used', async () => {
      const editor = (await h.keyFor(h.members.editor)).secret;
      const app = await connect(h.members.editor);
      expect((await h.request('GET', '/api/v1/me', { key: app.token })).status).toBe(200);
      const at = h.clock.now().toISOString();
      const until = Date.now() + 5_000;
      while ((await list(editor)).find((v) => v.id === app.grantId)?.lastUsedAt !== at) {
        if (Date.now() > until) throw new Error('lastUsedAt never appeared');
        await new Promise((r) => setTimeout(r, 25));
      }
    });
  });

  describe(`${mode}: DELETE /api/v1/connected-apps/:id`, () => {
    it('revokes the grant: 204, its tokens refused at once, gone from the list', async () => {
      const editor = (await h.keyFor(h.members.editor)).secret;
      const app = await connect(h.members.editor);
      expect((await h.request('GET', '/api/v1/me', { key: app.token })).status).toBe(200);
      const res = await h.request('DELETE', `/api/v1/connected-apps/${app.grantId}`, { key: editor });
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      expect((await h.request('GET', '/api/v1/me', { key: app.token })).status).toBe(401);
      expect(await h.tessera.stores.oauth.find('AccessToken', app.token)).toBeNull();
      expect((await list(editor)).map((v) => v.id)).not.toContain(app.grantId);
      expect((await h.request('DELETE', `/api/v1/connected-apps/${app.grantId}`, { key: editor })).status).toBe(404);
    });

    it('lets admins revoke members’ apps and editors only their own', async () => {
      const editor = (await h.keyFor(h.members.editor)).secret;
      const admin = (await h.keyFor(h.members.admin)).secret;
      const adminsApp = await connect(h.members.admin);
      expect((await h.request('DELETE', `/api/v1/connected-apps/${adminsApp.grantId}`, { key: editor })).status).toBe(404);
      expect((await h.request('GET', '/api/v1/me', { key: adminsApp.token })).status).toBe(200);
      const editorsApp = await connect(h.members.editor);
      expect((await h.request('DELETE', `/api/v1/connected-apps/${editorsApp.grantId}`, { key: admin })).status).toBe(204);
      expect((await h.request('GET', '/api/v1/me', { key: editorsApp.token })).status).toBe(401);
    });

    it('records the revocation in the audit log', async () => {
      const owner = (await h.keyFor(h.members.owner)).secret;
      const app = await connect(h.members.owner);
      h.clock.advance(1_000);
      await h.request('DELETE', `/api/v1/connected-apps/${app.grantId}`, { key: owner });
      const events = ((await h.request('GET', '/api/v1/audit-events?limit=100', { key: owner })).body as { data: Array<{ action: string; target: { id: string; type: string } }> }).data;
      expect(events[0]).toMatchObject({ action: 'connected_app.revoked', target: { type: 'connected_app', id: app.grantId } });
      expect(events.some((e) => e.action === 'connected_app.created' && e.target.id === app.grantId)).toBe(true);
    });
  });

  describe(`${mode}: OAuth access tokens at the API`, () => {
    it('resolve to the grant’s organization, with scopes within the user’s role', async () => {
      const app = await connect(h.members.editor);
      const res = await h.request('GET', '/api/v1/me', { key: app.token });
      expect(res.body).toEqual({ id: h.members.editor.userId, org_id: h.orgA, scopes: ['leads:read'], kind: 'oauth', client_id: clientId, grant_id: app.grantId });
    });

    it('answers 403 once the client is disabled, and 401 once the token expired', async () => {
      const app = await connect(h.members.editor);
      await h.tessera.services.clients.setDisabled(clientId, true);
      try {
        const res = await h.request('GET', '/api/v1/me', { key: app.token });
        expect(res.status).toBe(403);
        expect(res.body).toEqual({ error: { code: 'FORBIDDEN', message: 'This OAuth client is disabled' } });
      } finally {
        await h.tessera.services.clients.setDisabled(clientId, false);
      }
      h.clock.advance(3_601_000);
      expect((await h.request('GET', '/api/v1/me', { key: app.token })).status).toBe(401);
    });
  });

  describe(`${mode}: every connected-apps route`, () => {
    describeAuthenticatedRoute(() => h, { method: 'GET', path: () => '/api/v1/connected-apps', scope: 'apps:read', takesId: false });
    describeAuthenticatedRoute(() => h, { method: 'DELETE', path: (id) => `/api/v1/connected-apps/${id}`, scope: 'apps:write', takesId: true });
    describeAuthenticatedRoute(() => h, { method: 'PATCH', path: (id) => `/api/v1/connected-apps/${id}`, scope: 'apps:write', takesId: true, body: { limits: {} } });
    describeAuthenticatedRoute(() => h, { method: 'GET', path: (id) => `/api/v1/connected-apps/${id}/usage`, scope: 'apps:read', takesId: true });
  });
}
