/**
 * The API key management API (Minds' paths and bodies, extended), run on the memory stores and
 * on MongoDB + Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { inspectKey } from '../../src/domain/api-key-format.ts';
import { BearerEvents, type BearerEvent } from '../../src/services/revocation/bearer-events.ts';
import { hashKey } from '../../src/domain/key-hash.ts';
import { recordSecret } from '../support/log-capture.ts';
import { RESOURCE_SCOPES, startApi, UNAUTHORIZED_BODY, type ApiHarness, type KeyView, type StoreMode } from '../support/api-harness.ts';
import { describeAuthenticatedRoute } from './authenticated-route.suite.ts';

const ALL_SCOPES = ['apps:read', 'apps:write', 'audit:read', 'billing:read', 'billing:write', 'keys:read', 'keys:write', ...RESOURCE_SCOPES].sort();

export function describeApiKeysApi(mode: StoreMode): void {
  let h: ApiHarness;
  let owner: string;
  beforeAll(async () => {
    h = await startApi(mode, { TESSERA_AUTH_FAILURES_PER_MINUTE: '100000' });
    owner = (await h.keyFor(h.members.owner, { name: 'owner key' })).secret;
  });
  afterAll(async () => {
    await h.close();
  });

  const list = async (key = owner): Promise<KeyView[]> => (await h.request('GET', '/api/v1/api-keys', { key })).body as KeyView[];
  const create = (body?: unknown, key = owner) => h.request('POST', '/api/v1/api-keys', body === undefined ? { key } : { key, body });
  const me = (key: string) => h.request('GET', '/api/v1/me', { key });

  describe(`${mode}: POST /api/v1/api-keys`, () => {
    it('creates an unnamed key from no body, with every scope the caller may grant, shown once', async () => {
      const res = await create();
      expect(res.status).toBe(201);
      const view = res.body as KeyView;
      expect(view).toMatchObject({ name: null, env: 'live', active: true, scopes: ALL_SCOPES, lastUsedAt: null, expiresAt: null });
      expect(view.key).toMatch(/^tsr_live_[0-9A-Za-z]{38}$/);
      expect(inspectKey(h.tessera.config.apiKeyFormat, view.key!).kind).toBe('valid');
      expect(view.start).toBe(view.key!.slice(0, 13));
      expect(Date.parse(view.createdAt)).toBe(h.clock.now().getTime());
      expect((await me(view.key!)).status).toBe(200);
    });

    it('accepts an empty object and an empty body alike', async () => {
      expect((await create({})).status).toBe(201);
      expect((await create('')).status).toBe(201);
    });

    it('trims the name; empty or blank means none; 1–100 characters', async () => {
      expect(((await create({ name: '  prod  ' })).body as KeyView).name).toBe('prod');
      expect(((await create({ name: '   ' })).body as KeyView).name).toBeNull();
      expect(((await create({ name: '' })).body as KeyView).name).toBeNull();
      expect(((await create({ name: 'n'.repeat(100) })).body as KeyView).name).toHaveLength(100);
      const long = await create({ name: 'n'.repeat(101) });
      expect(long.status).toBe(400);
      expect(long.body).toMatchObject({ error: { code: 'VALIDATION_FAILED', field: 'name' } });
    });

    it.each([
      ['NUL', 'a\u0000b'],
      ['a C0 control', 'ding\u0007'],
      ['a C1 control', 'next\u0085line'],
      ['a bidi override', 'safe\u202Egnp.exe'],
      ['a zero-width space', 'pay\u200Bpal'],
      ['a lone surrogate', 'x\uD800y'],
    ])('refuses a name with %s (400 naming the field), creating nothing; a PATCH likewise', async (_what, name) => {
      const before = (await list()).length;
      const res = await create({ name });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: { code: 'VALIDATION_FAILED', field: 'name' } });
      expect((await list()).length).toBe(before);
      const made = (await create({ name: 'plain' })).body as KeyView;
      const patched = await h.request('PATCH', `/api/v1/api-keys/${made.id}`, { key: owner, body: { name } });
      expect(patched.status).toBe(400);
      expect(((await h.request('GET', `/api/v1/api-keys/${made.id}`, { key: owner })).body as KeyView).name).toBe('plain');
    });

    it('stores a name byte for byte as the response acknowledged it, in NFC', async () => {
      const res = await create({ name: ' Cafe\u0301 🔑 ключ ' });
      const made = res.body as KeyView;
      expect(made.name).toBe('Caf\u00e9 🔑 ключ');
      const stored = (await h.request('GET', `/api/v1/api-keys/${made.id}`, { key: owner })).body as KeyView;
      expect(Buffer.from(stored.name!)).toEqual(Buffer.from(made.name!));
      expect((await list()).find((k) => k.id === made.id)?.name).toBe(made.name);
    });

    it.each([
      [{ nmae: 'typo' }, 'nmae'],
      [{ name: { $ne: null } }, 'name'],
      [{ name: 42 }, 'name'],
      [{ scopes: 'keys:read' }, 'scopes'],
      [{ scopes: [{ $gt: '' }] }, 'scopes.0'],
      [{ env: 'prod' }, 'env'],
      [{ expires_at: 'tomorrow' }, 'expires_at'],
      [{ limits: { rate_limit_per_minute: -1 } }, 'limits.rate_limit_per_minute'],
      [{ limits: { burst: 5 } }, 'limits.burst'],
    ])('refuses %j with 400 naming %s, and writes nothing', async (body, field) => {
      const before = await list();
      const res = await create(body);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: { code: 'VALIDATION_FAILED', field } });
      expect(await list()).toEqual(before);
    });

    it('refuses malformed JSON (400), other content types (415) and oversized bodies (413)', async () => {
      expect((await h.request('POST', '/api/v1/api-keys', { key: owner, body: '{"name":' })).status).toBe(400);
      expect((await h.request('POST', '/api/v1/api-keys', { key: owner, body: 'name=x', headers: { 'content-type': 'text/plain' } })).status).toBe(415);
      expect((await h.request('POST', '/api/v1/api-keys', { key: owner, body: { name: 'x'.repeat(200_000) } })).status).toBe(413);
    });

    it('makes test keys with the test prefix', async () => {
      const view = (await create({ env: 'test' })).body as KeyView;
      expect(view.key).toMatch(/^tsr_test_/);
      expect(view.env).toBe('test');
      expect((await me(view.key!)).body).toMatchObject({ env: 'test' });
    });

    it('refuses an expiry in the past and keeps one in the future', async () => {
      const past = await create({ expires_at: new Date(h.clock.now().getTime() - 1_000).toISOString() });
      expect(past.status).toBe(400);
      expect(past.body).toMatchObject({ error: { field: 'expires_at' } });
      const at = new Date(h.clock.now().getTime() + 86_400_000);
      expect(((await create({ expires_at: at.toISOString() })).body as KeyView).expiresAt).toBe(at.toISOString());
    });

    it('refuses scopes beyond the caller’s own (403) and unknown scopes (400)', async () => {
      const narrow = (await h.keyFor(h.members.owner, { scopes: ['keys:read', 'keys:write', 'leads:read'] })).secret;
      const beyond = await create({ scopes: ['leads:write'] }, narrow);
      expect(beyond.status).toBe(403);
      expect(beyond.body).toMatchObject({ error: { code: 'FORBIDDEN' } });
      expect(((await create({ scopes: ['leads:read'] }, narrow)).body as KeyView).scopes).toEqual(['leads:read']);
      expect((await create({ scopes: ['payroll:write'] })).status).toBe(400);
    });

    it('lets an editor create keys within the editor role, and no viewer create any', async () => {
      const editor = (await h.keyFor(h.members.editor)).secret;
      const made = await create({}, editor);
      expect(made.status).toBe(201);
      expect((made.body as KeyView).scopes).not.toContain('audit:read');
      expect((await create({ scopes: ['audit:read'] }, editor)).status).toBe(403);
      const viewer = (await h.keyFor(h.members.viewer)).secret;
      const refused = await create({}, viewer);
      expect(refused.status).toBe(403);
    });
  });

  describe(`${mode}: listing and reading keys`, () => {
    it('lists metadata only — never a key or its hash — newest first', async () => {
      const made = (await create({ name: 'listed' })).body as KeyView;
      h.clock.advance(1_000);
      const later = (await create({ name: 'later' })).body as KeyView;
      const res = await h.request('GET', '/api/v1/api-keys', { key: owner });
      expect(res.status).toBe(200);
      const views = res.body as KeyView[];
      expect(views.findIndex((v) => v.id === later.id)).toBeLessThan(views.findIndex((v) => v.id === made.id));
      expect(res.text).not.toContain(made.key!);
      expect(res.text).not.toContain(hashKey(made.key!));
      const listed = views.find((v) => v.id === made.id)!;
      expect(Object.keys(listed).sort()).toEqual(
        ['active', 'createdAt', 'env', 'expiresAt', 'id', 'lastUsedAt', 'lastUsedFrom', 'limits', 'name', 'rotatedFrom', 'scopes', 'start', 'userId'].sort(),
      );
      const one = await h.request('GET', `/api/v1/api-keys/${made.id}`, { key: owner });
      expect(one.body).toEqual(listed);
      expect(one.text).not.toContain(made.key!);
    });

    it('shows owners and admins every key of the organization, editors only their own', async () => {
      const editorKey = await h.keyFor(h.members.editor, { name: 'editor’s' });
      const ownerMade = (await create({ name: 'owner’s' })).body as KeyView;
      const admin = (await h.keyFor(h.members.admin)).secret;
      const adminView = (await list(admin)).map((k) => k.id);
      expect(adminView).toEqual(expect.arrayContaining([editorKey.record.id, ownerMade.id]));
      const editorView = await list(editorKey.secret);
      expect(editorView.every((k) => k.id !== ownerMade.id)).toBe(true);
      expect(editorView.map((k) => k.id)).toContain(editorKey.record.id);
      const peek = await h.request('GET', `/api/v1/api-keys/${ownerMade.id}`, { key: editorKey.secret });
      expect(peek.status).toBe(404);
    });

    it('never shows another organization’s keys', async () => {
      const foreign = await h.keyFor(h.members.ownerB, { name: 'globex' });
      expect((await list()).map((k) => k.id)).not.toContain(foreign.record.id);
      expect((await list(foreign.secret)).map((k) => k.id)).toEqual([foreign.record.id]);
    });

    it('shows lastUsedAt once a key has been used, and where from: the client’s address, or the resource server that asked', async () => {
      const used = await h.keyFor(h.members.owner, { name: 'used' });
      expect((await me(used.secret)).status).toBe(200);
      const at = h.clock.now().toISOString();
      await eventually(async () => (await list()).find((k) => k.id === used.record.id)?.lastUsedAt === at);
      expect((await list()).find((k) => k.id === used.record.id)).toMatchObject({ lastUsedFrom: expect.stringMatching(/127\.0\.0\.1$/) });

      const verified = await h.keyFor(h.members.owner, { name: 'verified' });
      const rs = await h.tessera.services.clients.create({ name: 'Leads API', type: 'resource_server', redirectUris: [], scopes: [] });
      const basic = recordSecret(`Basic ${Buffer.from(`${rs.client.id}:${recordSecret(rs.secret)}`).toString('base64')}`);
      const res = await fetch(`${h.url}/oauth/introspect`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${verified.secret}` });
      expect((await res.json()) as unknown).toMatchObject({ active: true });
      await eventually(async () => (await list()).find((k) => k.id === verified.record.id)?.lastUsedFrom === 'via Leads API');
    });
  });

  describe(`${mode}: editing, disabling, deleting`, () => {
    it('renames, re-scopes and sets expiry and limits', async () => {
      const made = (await create({ name: 'old' })).body as KeyView;
      const expires = new Date(h.clock.now().getTime() + 3_600_000).toISOString();
      const res = await h.request('PATCH', `/api/v1/api-keys/${made.id}`, {
        key: owner,
        body: { name: ' new ', scopes: ['leads:read'], expires_at: expires, limits: { rate_limit_per_minute: 100, daily_spend_cap: 50 } },
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ name: 'new', scopes: ['leads:read'], expiresAt: expires, limits: { rate_limit_per_minute: 100, daily_spend_cap: 50 } });
      expect((await me(made.key!)).body).toMatchObject({ scopes: ['leads:read'] });
    });

    it('disables a key at once and enables it again', async () => {
      const made = (await create({ name: 'toggle' })).body as KeyView;
      expect((await h.request('PATCH', `/api/v1/api-keys/${made.id}`, { key: owner, body: { active: false } })).body).toMatchObject({ active: false });
      expect((await me(made.key!)).text).toBe(UNAUTHORIZED_BODY);
      await h.request('PATCH', `/api/v1/api-keys/${made.id}`, { key: owner, body: { active: true } });
      expect((await me(made.key!)).status).toBe(200);
    });

    it('refuses bad patches with 400 and changes nothing', async () => {
      const made = (await create({ name: 'stable' })).body as KeyView;
      for (const body of [{ key: 'x' }, { active: 'no' }, { name: { $set: 'x' } }, { scopes: ['nope'] }]) {
        const res = await h.request('PATCH', `/api/v1/api-keys/${made.id}`, { key: owner, body });
        expect(res.status).toBe(400);
      }
      const after = (await h.request('GET', `/api/v1/api-keys/${made.id}`, { key: owner })).body as KeyView;
      expect(after).toMatchObject({ name: 'stable', active: true, scopes: made.scopes });
    });

    it('deletes with 204 and an empty body; the key is refused at once and forever', async () => {
      const made = (await create({ name: 'doomed' })).body as KeyView;
      expect((await me(made.key!)).status).toBe(200);
      const res = await h.request('DELETE', `/api/v1/api-keys/${made.id}`, { key: owner });
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      expect((await me(made.key!)).text).toBe(UNAUTHORIZED_BODY);
      expect((await h.request('GET', `/api/v1/api-keys/${made.id}`, { key: owner })).status).toBe(404);
      expect((await h.request('DELETE', `/api/v1/api-keys/${made.id}`, { key: owner })).status).toBe(404);
      expect((await h.request('PATCH', `/api/v1/api-keys/${made.id}`, { key: owner, body: { active: true } })).status).toBe(404);
      expect((await list()).map((k) => k.id)).not.toContain(made.id);
      expect((await me(made.key!)).status).toBe(401);
    });

    it('tells every instance through the ephemeral store (Redis) that a key changed', async () => {
      const made = (await create({ name: 'broadcast' })).body as KeyView;
      const heard: BearerEvent[] = [];
      const stop = await new BearerEvents(h.tessera.stores.ephemeral, () => undefined).subscribe((e) => heard.push(e!));
      try {
        await h.request('PATCH', `/api/v1/api-keys/${made.id}`, { key: owner, body: { active: false } });
        await h.request('DELETE', `/api/v1/api-keys/${made.id}`, { key: owner });
        await eventually(async () => heard.length >= 2);
        expect(heard).toEqual([
          { kind: 'api_key', id: made.id, hash: hashKey(made.key!) },
          { kind: 'api_key', id: made.id, hash: hashKey(made.key!), final: true },
        ]);
      } finally {
        await stop();
      }
    });

    it('lets a key disabled by a role above its user’s be enabled again only by that role or above; the audit says who', async () => {
      const editor = await h.keyFor(h.members.editor, { name: 'editor’s own' });
      const admin = (await h.keyFor(h.members.admin)).secret;
      const target = await h.keyFor(h.members.editor, { name: 'disabled from above' });
      const patch = (body: unknown, key: string) => {
        h.clock.advance(1_000); // the audit log orders its events by time
        return h.request('PATCH', `/api/v1/api-keys/${target.record.id}`, { key, body });
      };

      expect((await patch({ active: false }, owner)).status).toBe(200);
      for (const caller of [editor.secret, admin]) {
        const refused = await patch({ active: true }, caller);
        expect(refused.status).toBe(403);
        expect(refused.body).toMatchObject({ error: { code: 'FORBIDDEN', message: expect.stringMatching(/owner/) } });
      }
      expect((await me(target.secret)).status).toBe(401);
      // Anything but re-enabling stays the editor's to change.
      expect((await patch({ name: 'still mine' }, editor.secret)).status).toBe(200);
      expect((await patch({ active: true }, owner)).status).toBe(200);
      expect((await me(target.secret)).status).toBe(200);

      // Disabled by the editor itself: the editor may enable it again — unless an owner disabled it too.
      expect((await patch({ active: false }, editor.secret)).status).toBe(200);
      expect((await patch({ active: true }, editor.secret)).status).toBe(200);
      expect((await patch({ active: false }, editor.secret)).status).toBe(200);
      expect((await patch({ active: false }, owner)).status).toBe(200);
      expect((await patch({ active: true }, editor.secret)).status).toBe(403);
      expect((await patch({ active: true }, owner)).status).toBe(200);
      // Disabled by an admin: an owner (above) may enable it, the editor may not.
      expect((await patch({ active: false }, admin)).status).toBe(200);
      expect((await patch({ active: true }, editor.secret)).status).toBe(403);
      // Nor can rotating it yield an enabled key.
      const rotated = await h.request('POST', `/api/v1/api-keys/${target.record.id}/rotate`, { key: editor.secret });
      expect(rotated.status).toBe(409);
      expect(rotated.text).not.toMatch(/tsr_live_/);
      expect((await patch({ active: true }, owner)).status).toBe(200);

      const events = ((await h.request('GET', '/api/v1/audit-events?limit=100', { key: owner })).body as { data: Array<{ action: string; target: { id: string }; actor: { user_id: string }; details: { active?: boolean } }> }).data
        .filter((e) => e.target.id === target.record.id && e.details.active !== undefined)
        .map((e) => [e.actor.user_id, e.details.active]);
      expect(events.reverse()).toEqual([
        [h.members.owner.userId, false],
        [h.members.owner.userId, true],
        [h.members.editor.userId, false],
        [h.members.editor.userId, true],
        [h.members.editor.userId, false],
        [h.members.owner.userId, false],
        [h.members.owner.userId, true],
        [h.members.admin.userId, false],
        [h.members.owner.userId, true],
      ]);
    });

    it('lets admins manage others’ keys and editors only their own', async () => {
      const editor = await h.keyFor(h.members.editor, { name: 'editor’s own' });
      const admin = (await h.keyFor(h.members.admin)).secret;
      const ownerMade = (await create({ name: 'owner’s' })).body as KeyView;
      expect((await h.request('DELETE', `/api/v1/api-keys/${ownerMade.id}`, { key: editor.secret })).status).toBe(404);
      expect((await me(ownerMade.key!)).status).toBe(200);
      expect((await h.request('PATCH', `/api/v1/api-keys/${editor.record.id}`, { key: editor.secret, body: { name: 'mine' } })).status).toBe(200);
      expect((await h.request('DELETE', `/api/v1/api-keys/${editor.record.id}`, { key: admin })).status).toBe(204);
      expect((await me(editor.secret)).status).toBe(401);
    });
  });

  describe(`${mode}: rotation`, () => {
    it('issues a new key with the same name, scopes, env and limits, and revokes the old one at once', async () => {
      const old = (await create({ name: 'rotating', env: 'test', scopes: ['leads:read', 'keys:read'], limits: { rate_limit_per_minute: 1000 } })).body as KeyView;
      const res = await h.request('POST', `/api/v1/api-keys/${old.id}/rotate`, { key: owner });
      expect(res.status).toBe(201);
      const fresh = res.body as KeyView & { rotatedFrom: string };
      expect(fresh).toMatchObject({ name: 'rotating', env: 'test', scopes: ['keys:read', 'leads:read'], limits: old.limits, rotatedFrom: old.id });
      expect(fresh.key).toMatch(/^tsr_test_/);
      expect(fresh.id).not.toBe(old.id);
      expect((await me(old.key!)).status).toBe(401);
      expect((await me(fresh.key!)).status).toBe(200);
      expect((await h.request('POST', `/api/v1/api-keys/${old.id}/rotate`, { key: owner })).status).toBe(404);
    });

    it('keeps the old key usable for the grace period only', async () => {
      const old = (await create({ name: 'graceful' })).body as KeyView;
      const res = await h.request('POST', `/api/v1/api-keys/${old.id}/rotate`, { key: owner, body: { grace_period_seconds: 60 } });
      const fresh = res.body as KeyView;
      h.clock.advance(59_000);
      expect((await me(old.key!)).status).toBe(200);
      h.clock.advance(1_001);
      expect((await me(old.key!)).status).toBe(401);
      expect((await me(fresh.key!)).status).toBe(200);
    });

    it('lets one of two concurrent rotations win; the loser changes nothing', async () => {
      const old = (await create({ name: 'contested' })).body as KeyView;
      const results = await Promise.all([0, 1].map(() => h.request('POST', `/api/v1/api-keys/${old.id}/rotate`, { key: owner, body: { grace_period_seconds: 30 } })));
      expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
      const winner = results.find((r) => r.status === 201)!.body as KeyView;
      expect((await me(winner.key!)).status).toBe(200);
      const named = (await list()).filter((k) => k.name === 'contested');
      expect(named.map((k) => k.id).sort()).toEqual([old.id, winner.id].sort());
    });

    it('lets a key in its grace period be shortened or deleted, never extended or re-enabled', async () => {
      const old = (await create({ name: 'in grace' })).body as KeyView;
      const patch = (body: unknown) => h.request('PATCH', `/api/v1/api-keys/${old.id}`, { key: owner, body });
      await h.request('POST', `/api/v1/api-keys/${old.id}/rotate`, { key: owner, body: { grace_period_seconds: 600 } });
      const graceEnd = new Date(h.clock.now().getTime() + 600_000).toISOString();
      const later = new Date(h.clock.now().getTime() + 3_600_000).toISOString();
      for (const body of [{ expires_at: null }, { expires_at: later }]) {
        const refused = await patch(body);
        expect(refused.status).toBe(409);
        expect(refused.body).toMatchObject({ error: { code: 'CONFLICT', field: 'expires_at' } });
      }
      expect((await h.request('GET', `/api/v1/api-keys/${old.id}`, { key: owner })).body).toMatchObject({ expiresAt: graceEnd, active: true });

      const sooner = new Date(h.clock.now().getTime() + 60_000).toISOString();
      expect((await patch({ expires_at: sooner })).body).toMatchObject({ expiresAt: sooner });
      expect((await patch({ active: false })).status).toBe(200);
      const reenabled = await patch({ active: true });
      expect(reenabled.status).toBe(409);
      expect(reenabled.body).toMatchObject({ error: { code: 'CONFLICT', field: 'active' } });
      expect((await me(old.key!)).status).toBe(401);
      expect((await h.request('DELETE', `/api/v1/api-keys/${old.id}`, { key: owner })).status).toBe(204);
    });

    it('refuses a grace period over 7 days', async () => {
      const old = (await create({})).body as KeyView;
      const res = await h.request('POST', `/api/v1/api-keys/${old.id}/rotate`, { key: owner, body: { grace_period_seconds: 8 * 86_400 } });
      expect(res.status).toBe(400);
      expect((await me(old.key!)).status).toBe(200);
    });
  });

  describe(`${mode}: nobody receives a secret that outlives its grant or acts as someone else`, () => {
    it('refuses to create or rotate keys with a connected app’s token: revoking the app leaves nothing it obtained working', async () => {
      const connector = await h.tessera.services.clients.create({ name: 'Zapier', redirectUris: ['https://zapier.example/cb'], scopes: ['keys:read', 'keys:write'] });
      recordSecret(connector.secret);
      const app = await h.connectApp(h.members.owner, connector.client.id, { scopes: ['keys:read', 'keys:write'] });
      expect((await me(app.token)).body).toMatchObject({ kind: 'oauth', scopes: ['keys:read', 'keys:write'] });
      const before = (await list()).length;

      const created = await create({ name: 'minted by a connector' }, app.token);
      expect(created.status).toBe(403);
      expect(created.body).toMatchObject({ error: { code: 'FORBIDDEN' } });
      expect(created.text).not.toMatch(/tsr_live_/);
      const own = (await create({ name: 'owner’s own' })).body as KeyView;
      const rotated = await h.request('POST', `/api/v1/api-keys/${own.id}/rotate`, { key: app.token });
      expect(rotated.status).toBe(403);
      expect(rotated.text).not.toMatch(/tsr_live_/);
      expect((await me(own.key!)).status).toBe(200);
      expect((await list()).length).toBe(before + 1);

      // What a connected app may still do with keys:write changes keys, and never yields a secret.
      expect((await h.request('PATCH', `/api/v1/api-keys/${own.id}`, { key: app.token, body: { name: 'renamed by a connector' } })).status).toBe(200);
      expect((await h.request('DELETE', `/api/v1/connected-apps/${app.grantId}`, { key: owner })).status).toBe(204);
      expect((await me(app.token)).status).toBe(401);
    });

    it('lets only a key’s own user rotate it; owners and admins may disable or delete others’ keys', async () => {
      const admin = (await h.keyFor(h.members.admin)).secret;
      const editorKey = await h.keyFor(h.members.editor, { name: 'editor’s' });
      const adminKey = await h.keyFor(h.members.admin, { name: 'admin’s' });
      const before = (await list()).length;
      for (const [caller, target] of [
        [owner, editorKey],
        [admin, editorKey],
        [owner, adminKey],
      ] as const) {
        const res = await h.request('POST', `/api/v1/api-keys/${target.record.id}/rotate`, { key: caller, body: { grace_period_seconds: 60 } });
        expect(res.status).toBe(403);
        expect(res.body).toMatchObject({ error: { code: 'FORBIDDEN', message: expect.stringMatching(/own/) } });
        expect(res.text).not.toMatch(/tsr_live_/);
        expect((await me(target.secret)).status).toBe(200);
      }
      expect((await list()).length).toBe(before);
      expect((await h.request('PATCH', `/api/v1/api-keys/${editorKey.record.id}`, { key: admin, body: { active: false } })).status).toBe(200);
      expect((await h.request('DELETE', `/api/v1/api-keys/${adminKey.record.id}`, { key: owner })).status).toBe(204);
      const mine = await h.request('POST', `/api/v1/api-keys/${(await h.keyFor(h.members.admin)).record.id}/rotate`, { key: admin });
      expect(mine.status).toBe(201);
    });
  });

  describe(`${mode}: who am I`, () => {
    it('answers /me and /auth/me with the principal, id being the user id', async () => {
      const made = await h.keyFor(h.members.editor, { scopes: ['leads:read'] });
      for (const path of ['/api/v1/me', '/api/v1/auth/me']) {
        const res = await h.request('GET', path, { key: made.secret });
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ id: h.members.editor.userId, org_id: h.orgA, scopes: ['leads:read'], kind: 'api_key', key_id: made.record.id, env: 'live' });
      }
    });

    // Changes to users, memberships and organizations reach principals cached before them within
    // the cache's bound (TESSERA_CACHE_MAX_AGE_MS): the clock is moved past it.
    const pastCacheBound = () => h.clock.advance(h.tessera.config.principalCacheMaxAgeMs);

    it('never lets a key do more than its user’s current role', async () => {
      const made = await h.keyFor(h.members.admin, { scopes: ['audit:read', 'leads:write', 'keys:read'] });
      expect((await me(made.secret)).body).toMatchObject({ scopes: ['audit:read', 'keys:read', 'leads:write'] });
      await h.tessera.services.accounts.setMembership(h.members.admin.userId, h.orgA, 'viewer');
      try {
        pastCacheBound();
        expect((await me(made.secret)).body).toMatchObject({ scopes: ['keys:read'] });
      } finally {
        await h.tessera.services.accounts.setMembership(h.members.admin.userId, h.orgA, 'admin');
      }
      pastCacheBound();
      expect((await me(made.secret)).body).toMatchObject({ scopes: ['audit:read', 'keys:read', 'leads:write'] });
    });

    it('refuses the key of a user who left the organization, or was disabled', async () => {
      const made = await h.keyFor(h.members.editor);
      try {
        await h.tessera.stores.memberships.remove(h.members.editor.userId, h.orgA);
        pastCacheBound();
        expect((await me(made.secret)).text).toBe(UNAUTHORIZED_BODY);
        await h.tessera.services.accounts.setMembership(h.members.editor.userId, h.orgA, 'editor');
        pastCacheBound();
        expect((await me(made.secret)).status).toBe(200);
        await h.tessera.stores.users.update(h.members.editor.userId, { disabled: true });
        pastCacheBound();
        expect((await me(made.secret)).text).toBe(UNAUTHORIZED_BODY);
      } finally {
        await h.tessera.services.accounts.setMembership(h.members.editor.userId, h.orgA, 'editor');
        await h.tessera.stores.users.update(h.members.editor.userId, { disabled: false });
        pastCacheBound();
      }
    });
  });

  describe(`${mode}: per-key rate limit`, () => {
    it('answers 429 over the key’s limit, with the X-RateLimit headers on every response', async () => {
      const made = await h.keyFor(h.members.owner, { limits: { rateLimitPerMinute: 3 } });
      const responses = [];
      for (let i = 0; i < 4; i++) responses.push(await me(made.secret));
      expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 429]);
      expect(responses.map((r) => r.headers.get('x-ratelimit-remaining'))).toEqual(['2', '1', '0', '0']);
      expect(responses[0]!.headers.get('x-ratelimit-limit')).toBe('3');
      expect(Number(responses[0]!.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000 - 120);
      expect(Number(responses[3]!.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(responses[3]!.body).toMatchObject({ error: { code: 'RATE_LIMITED' } });
      // Other keys are not affected.
      expect((await me(owner)).status).toBe(200);
    });
  });

  describe(`${mode}: audit events`, () => {
    it('records who changed which key, when and with which credential, newest first, paginated', async () => {
      const actorKey = await h.keyFor(h.members.admin, { name: 'auditor' });
      h.clock.advance(1_000); // nothing else happens at the times of this test's events
      const made = (await create({ name: 'audited' }, actorKey.secret)).body as KeyView;
      h.clock.advance(1_000);
      await h.request('PATCH', `/api/v1/api-keys/${made.id}`, { key: actorKey.secret, body: { name: 'audited 2' } });
      h.clock.advance(1_000);
      const rotated = (await h.request('POST', `/api/v1/api-keys/${made.id}/rotate`, { key: actorKey.secret, body: { grace_period_seconds: 10 } })).body as KeyView;
      h.clock.advance(1_000);
      await h.request('DELETE', `/api/v1/api-keys/${rotated.id}`, { key: actorKey.secret });

      const first = await h.request('GET', '/api/v1/audit-events?limit=2', { key: owner });
      expect(first.status).toBe(200);
      const page1 = first.body as { data: Array<Record<string, unknown>>; next_cursor: string | null };
      expect(page1.data.map((e) => [e.action, (e.target as { id: string }).id])).toEqual([
        ['api_key.revoked', rotated.id],
        ['api_key.rotated', made.id],
      ]);
      expect(page1.data[0]).toMatchObject({ actor: { user_id: h.members.admin.userId, credential: { kind: 'api_key', keyId: actorKey.record.id } } });
      expect(page1.data[1]).toMatchObject({ details: { newKeyId: rotated.id, graceSeconds: 10 } });
      expect(page1.next_cursor).toEqual(expect.any(String));
      const page2 = (await h.request('GET', `/api/v1/audit-events?limit=2&cursor=${page1.next_cursor}`, { key: owner })).body as typeof page1;
      expect(page2.data.map((e) => e.action)).toEqual(['api_key.updated', 'api_key.created']);
      expect(page2.data[0]).toMatchObject({ details: { fields: ['name'] } });
      expect(JSON.stringify([page1, page2])).not.toContain(made.key!);

      // Filters: by actor, credential kind and action, together.
      const filtered = async (query: string) => ((await h.request('GET', `/api/v1/audit-events?limit=100&${query}`, { key: owner })).body as { data: Array<{ action: string; actor: { user_id: string }; target: { id: string } }> }).data;
      const rotations = await filtered(`actor=${h.members.admin.userId}&action=api_key.rotated`);
      expect(rotations.map((e) => e.target.id)).toContain(made.id);
      expect(rotations.every((e) => e.action === 'api_key.rotated' && e.actor.user_id === h.members.admin.userId)).toBe(true);
      expect((await filtered(`actor=${h.members.admin.userId}&credential=api_key`)).every((e) => e.actor.user_id === h.members.admin.userId)).toBe(true);
      expect(await filtered(`actor=${h.members.admin.userId}&credential=session`)).toEqual([]);
      expect((await h.request('GET', '/api/v1/audit-events?action=key.exploded', { key: owner })).body).toMatchObject({ error: { field: 'action' } });
      expect((await h.request('GET', '/api/v1/audit-events?credential=password', { key: owner })).body).toMatchObject({ error: { field: 'credential' } });
    });

    it('is for owners and admins only, and refuses bad paging', async () => {
      const editor = (await h.keyFor(h.members.editor)).secret;
      expect((await h.request('GET', '/api/v1/audit-events', { key: editor })).status).toBe(403);
      expect((await h.request('GET', '/api/v1/audit-events?limit=0', { key: owner })).status).toBe(400);
      expect((await h.request('GET', '/api/v1/audit-events?cursor=garbage', { key: owner })).body).toMatchObject({ error: { field: 'cursor' } });
      expect((await h.request('GET', '/api/v1/audit-events?sort=asc', { key: owner })).status).toBe(400);
    });

    it('never shows another organization’s events', async () => {
      const foreign = (await h.keyFor(h.members.ownerB)).secret;
      await create({ name: 'in globex' }, foreign);
      const events = ((await h.request('GET', '/api/v1/audit-events?limit=100', { key: owner })).body as { data: Array<{ details: { name?: string } }> }).data;
      expect(events.some((e) => e.details.name === 'in globex')).toBe(false);
    });
  });

  describe(`${mode}: throttling failed authentications per client address`, () => {
    let strict: ApiHarness;
    let behindProxy: ApiHarness;
    beforeAll(async () => {
      strict = await startApi(mode, { TESSERA_AUTH_FAILURES_PER_MINUTE: '2' });
      behindProxy = await startApi(mode, { TESSERA_AUTH_FAILURES_PER_MINUTE: '2', TESSERA_TRUST_PROXY: 'true' });
    });
    afterAll(async () => {
      await Promise.all([strict.close(), behindProxy.close()]);
    });

    it('answers 429 with Retry-After to an address that has failed too often — to its failures only', async () => {
      const good = (await strict.keyFor(strict.members.owner)).secret;
      const statuses = [];
      for (let i = 0; i < 3; i++) {
        // Varying X-Forwarded-For changes nothing: this deployment does not run behind a proxy.
        statuses.push((await strict.request('GET', '/api/v1/me', { key: `wrong-${i}`, headers: { 'x-forwarded-for': `203.0.113.${i}` } })).status);
      }
      expect(statuses).toEqual([401, 401, 429]);
      const refused = await strict.request('GET', '/api/v1/me', { key: 'wrong-again' });
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(refused.body).toMatchObject({ error: { code: 'RATE_LIMITED' } });
      // A connector calls with many users' bearers from one egress address: one user's bad bearer
      // never locks out the others.
      expect((await strict.request('GET', '/api/v1/me', { key: good })).status).toBe(200);
    });

    it('counts X-Forwarded-For addresses separately only behind a trusted proxy', async () => {
      const good = (await behindProxy.keyFor(behindProxy.members.owner)).secret;
      const from = (ip: string, key: string) => behindProxy.request('GET', '/api/v1/me', { key, headers: { 'x-forwarded-for': ip } });
      expect((await from('198.51.100.7', 'wrong')).status).toBe(401);
      expect((await from('198.51.100.7', 'wrong')).status).toBe(401);
      expect((await from('198.51.100.7', 'wrong')).status).toBe(429);
      expect((await from('198.51.100.8', good)).status).toBe(200);
    });

    // The trusted proxy appends the address it saw: whatever the client wrote stays to its left.
    it('keys on the address the trusted proxy saw, however the client varies its own X-Forwarded-For', async () => {
      const good = (await behindProxy.keyFor(behindProxy.members.owner)).secret;
      const statuses = [];
      for (let i = 0; i < 4; i++) {
        statuses.push((await behindProxy.request('GET', '/api/v1/me', { key: `guess-${i}`, headers: { 'x-forwarded-for': `10.9.0.${i}, 198.51.100.20` } })).status);
      }
      expect(statuses).toEqual([401, 401, 429, 429]);
      expect((await behindProxy.request('GET', '/api/v1/me', { key: 'guess-4', headers: { 'x-forwarded-for': '10.9.0.77, 198.51.100.20' } })).status).toBe(429);
      expect((await behindProxy.request('GET', '/api/v1/me', { key: good, headers: { 'x-forwarded-for': '10.9.0.77, 198.51.100.20' } })).status).toBe(200);
    });

    it('never blocks a victim whose address an attacker writes into its own X-Forwarded-For', async () => {
      const victim = (await behindProxy.keyFor(behindProxy.members.owner)).secret;
      for (let i = 0; i < 3; i++) {
        await behindProxy.request('GET', '/api/v1/me', { key: `bad-${i}`, headers: { 'x-forwarded-for': '203.0.113.50, 198.51.100.21' } });
      }
      expect((await behindProxy.request('GET', '/api/v1/me', { key: victim, headers: { 'x-forwarded-for': '203.0.113.50' } })).status).toBe(200);
    });
  });

  const routes = [
    { method: 'GET', path: () => '/api/v1/api-keys', scope: 'keys:read', takesId: false },
    { method: 'POST', path: () => '/api/v1/api-keys', scope: 'keys:write', takesId: false, body: {} },
    { method: 'GET', path: (id: string) => `/api/v1/api-keys/${id}`, scope: 'keys:read', takesId: true },
    { method: 'PATCH', path: (id: string) => `/api/v1/api-keys/${id}`, scope: 'keys:write', takesId: true, body: { name: 'x' } },
    { method: 'DELETE', path: (id: string) => `/api/v1/api-keys/${id}`, scope: 'keys:write', takesId: true },
    { method: 'POST', path: (id: string) => `/api/v1/api-keys/${id}/rotate`, scope: 'keys:write', takesId: true },
    { method: 'GET', path: (id: string) => `/api/v1/api-keys/${id}/usage`, scope: 'keys:read', takesId: true },
    { method: 'GET', path: () => '/api/v1/audit-events', scope: 'audit:read', takesId: false },
    { method: 'GET', path: () => '/api/v1/balance', scope: 'billing:read', takesId: false },
    { method: 'POST', path: () => '/api/v1/balance/credits', scope: 'billing:write', takesId: false, body: { credits: 1 } },
  ];
  describe(`${mode}: every authenticated route`, () => {
    for (const route of routes) describeAuthenticatedRoute(() => h, route);
  });
}

async function eventually(check: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
