/**
 * Minds' authentication document (../shared/seeds/001_a9a00c0fef0a260e.txt), statement by
 * statement, against Tessera running Minds' profile (config/profiles/minds.json) on the memory
 * stores: the key management API at the paths and in the shapes the document prints
 * (/api/v1/api-keys, /api/v1/auth/me), its 401 body word for word — on Tessera's routes and, through
 * the resource-server kit, on a small Minds API — its key format, and the console steps at the
 * HTTP level.
 */
import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import { generateKey } from '../../../src/domain/api-key-format.ts';
import { principalOf } from '../../../kit/index.ts';
import { startApi, type ApiHarness, type KeyView } from '../../support/api-harness.ts';
import { askedToSignIn, call, conformance, createInConsole, expectKeysPage, expectShownOnce, formFromButton, person, productApi, signedIn, signInOn, type ProductApi } from '../../support/conformance.ts';
import { ConsoleClient } from '../../support/console-client.ts';
import { recordSecret } from '../../support/log-capture.ts';

/** The document's 401 body, as printed. */
const UNAUTHORIZED = { statusCode: 401, statusMessage: 'Unauthorized', message: 'Invalid or missing API key' };
/** The document's example key. */
const EXAMPLE_KEY = 'minds_10e9d89a4f88331be68ce05736271bcc58409a26b03a412b';
/** RFC 9562 version 4, as the document's example user id. */
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const doc = conformance('Minds');

describe('Minds: Authentication', () => {
  let h: ApiHarness;
  let api: ProductApi;
  let minds: string;

  beforeAll(async () => {
    h = await startApi('memory', { TESSERA_PROFILE: 'minds', TESSERA_AUTH_FAILURES_PER_MINUTE: '100000' });
    // Minds' own API: its minds, guarded by the kit with Minds' scopes.
    api = await productApi(h, (router, guard) => {
      router.get('/api/v1/minds', guard(['minds:read']), (ctx) => {
        ctx.body = { data: [{ id: 'mind_1', name: 'Socrates' }], user: principalOf(ctx).sub };
      });
    });
    minds = `${api.url}/api/v1/minds`;
  });
  afterAll(async () => {
    await api.close();
    await h.close();
  });

  const list = async (key: string): Promise<KeyView[]> => {
    const res = await h.request('GET', '/api/v1/api-keys', { key });
    expect(res.status).toBe(200);
    return res.body as KeyView[];
  };
  const create = (key: string, body?: unknown) => h.request('POST', '/api/v1/api-keys', body === undefined ? { key } : { key, body });
  const me = (key: string) => h.request('GET', '/api/v1/auth/me', { key });
  const refusedAsDocumented = (res: { status: number; body: unknown; headers: Headers }) => ({ status: res.status, body: res.body });

  /** Creates a key on the console's form: a live key with every scope of Minds'. */
  const generate = (client: ConsoleClient, name = '') => createInConsole(client, { name, scopes: ['keys:read', 'keys:write', 'minds:read'] });

  doc.statement('All Minds API requests require authentication using API keys', async () => {
    const key = (await h.keyFor(h.members.editor)).secret;
    const victim = (await h.keyFor(h.members.editor)).record.id;
    const routes: Array<[string, string]> = [
      ['GET', '/api/v1/api-keys'],
      ['POST', '/api/v1/api-keys'],
      ['DELETE', `/api/v1/api-keys/${victim}`],
      ['GET', '/api/v1/auth/me'],
    ];
    for (const [method, path] of routes) {
      const res = await h.request(method, path);
      expect({ method, path, ...refusedAsDocumented(res) }).toEqual({ method, path, status: 401, body: UNAUTHORIZED });
    }
    // Nothing was created or deleted by the refused requests.
    expect((await list(key)).map((k) => k.id)).toContain(victim);
    // The Minds API itself, through the kit.
    expect(refusedAsDocumented(await call(minds))).toEqual({ status: 401, body: UNAUTHORIZED });
    expect(await call(minds, { key })).toMatchObject({ status: 200, body: { user: h.members.editor.userId } });
  });

  doc.statement('API keys are unique to your account', async () => {
    const mine = await h.keyFor(h.members.editor, { name: 'mine' });
    const theirs = await h.keyFor(h.members.admin, { name: 'theirs' });
    expect(mine.secret).not.toBe(theirs.secret);
    expect((await me(mine.secret)).body).toEqual({ id: h.members.editor.userId });
    expect((await me(theirs.secret)).body).toEqual({ id: h.members.admin.userId });
    // One account's key reaches only that account's keys.
    expect((await list(mine.secret)).map((k) => k.id)).not.toContain(theirs.record.id);
    expect((await h.request('DELETE', `/api/v1/api-keys/${theirs.record.id}`, { key: mine.secret })).status).toBe(404);
    expect((await me(theirs.secret)).status).toBe(200);
  });

  doc.statement('Log in to your Minds account', async () => {
    const editor = await person(h, 'editor');
    const client = new ConsoleClient(h.url);
    await signInOn(client, await askedToSignIn(client, 'Minds'), editor);
  });

  doc.statement('Navigate to Settings → API Keys', async () => {
    const editor = await person(h, 'editor');
    const existing = await h.keyFor(editor, { name: 'Existing integration' });
    const client = await signedIn(h, editor);
    expectKeysPage(await client.get('/settings/api-keys'), 'Minds', [existing.record]);
  });

  doc.statement('Click Generate New API Key', async () => {
    const editor = await person(h, 'editor');
    const client = await signedIn(h, editor);
    // The button says what the document says (the profile's console labels).
    await formFromButton(client, 'Generate New API Key');
    const made = await generate(client, 'From the console');
    expect((await me(made.secret)).body).toEqual({ id: editor.userId });
  });

  doc.statement('Copy your API key immediately (you won’t be able to see it again!)', async () => {
    const editor = await person(h, 'editor');
    const client = await signedIn(h, editor);
    await expectShownOnce(client, await generate(client, 'Shown once'));
  });

  doc.statement('API keys are prefixed with minds_', async () => {
    const viaApi = (await create((await h.keyFor(h.members.owner)).secret)).body as KeyView;
    const client = await signedIn(h, await person(h, 'editor'));
    const viaConsole = await generate(client);
    for (const key of [viaApi.key!, viaConsole.secret]) expect(key.startsWith('minds_')).toBe(true);
  });

  doc.statement('look like this: minds_10e9d89a4f88331be68ce05736271bcc58409a26b03a412b', async () => {
    const body = EXAMPLE_KEY.slice('minds_'.length);
    expect(body).toMatch(/^[0-9a-f]+$/);
    const owner = (await h.keyFor(h.members.owner)).secret;
    const made = new Set<string>();
    for (let i = 0; i < 5; i++) made.add(((await create(owner)).body as KeyView).key!);
    expect(made.size).toBe(5);
    for (const key of made) {
      expect(key).toMatch(new RegExp(`^minds_[0-9a-f]{${body.length}}$`));
      expect(key).toHaveLength(EXAMPLE_KEY.length);
    }
  });

  doc.statement('Authorization: Bearer minds_your_api_key_here', async () => {
    const key = (await h.keyFor(h.members.editor)).secret;
    const authorization = `Bearer ${key}`;
    expect((await h.request('GET', '/api/v1/api-keys', { authorization })).status).toBe(200);
    expect((await h.request('GET', '/api/v1/auth/me', { authorization })).status).toBe(200);
    expect((await h.request('POST', '/api/v1/api-keys', { authorization })).status).toBe(201);
    expect((await call(minds, { authorization })).status).toBe(200);
  });

  doc.statement('Generate a new API key', async () => {
    const old = (await h.keyFor(h.members.editor, { name: 'old' })).secret;
    const res = await create(old, { name: 'new' });
    expect(res.status).toBe(201);
    const fresh = (res.body as KeyView).key!;
    expect(fresh).not.toBe(old);
    // Both work until the old one is deleted: no gap while applications move over.
    expect((await me(old)).status).toBe(200);
    expect((await me(fresh)).status).toBe(200);
  });

  doc.statement('Update your applications to use the new key', async () => {
    const old = await h.keyFor(h.members.editor, { name: 'old' });
    const fresh = (await create(old.secret, { name: 'new' })).body as KeyView;
    // The new key is the same account to every route: who it is, the keys it sees, the Minds API.
    expect((await me(fresh.key!)).body).toEqual((await me(old.secret)).body);
    expect((await list(fresh.key!)).map((k) => k.id).sort()).toEqual((await list(old.secret)).map((k) => k.id).sort());
    expect((await call(minds, { key: fresh.key! })).body).toEqual((await call(minds, { key: old.secret })).body);
  });

  doc.statement('Delete the old key', async () => {
    const old = await h.keyFor(h.members.editor, { name: 'old' });
    const fresh = ((await create(old.secret, { name: 'new' })).body as KeyView).key!;
    expect((await h.request('DELETE', `/api/v1/api-keys/${old.record.id}`, { key: fresh })).status).toBe(204);
    expect(refusedAsDocumented(await me(old.secret))).toEqual({ status: 401, body: UNAUTHORIZED });
    expect(refusedAsDocumented(await call(minds, { key: old.secret }))).toEqual({ status: 401, body: UNAUTHORIZED });
    expect((await me(fresh)).status).toBe(200);
    expect((await list(fresh)).map((k) => k.id)).not.toContain(old.record.id);
  });

  doc.statement('GET /api/v1/auth/me — Verify that an API key is valid and identify which account it belongs to', async () => {
    const key = await h.keyFor(h.members.editor);
    expect(await me(key.secret)).toMatchObject({ status: 200, body: { id: h.members.editor.userId } });
    await h.request('DELETE', `/api/v1/api-keys/${key.record.id}`, { key: key.secret });
    expect(refusedAsDocumented(await me(key.secret))).toEqual({ status: 401, body: UNAUTHORIZED });
  });

  doc.statement('{"id": "550e8400-e29b-41d4-a716-446655440000"}', async () => {
    const key = await h.keyFor(h.members.editor);
    const res = await me(key.secret);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: h.members.editor.userId });
    expect(h.members.editor.userId).toMatch(UUID_V4);
  });

  doc.statement('Returns the user ID associated with the API key', async () => {
    for (const member of [h.members.owner, h.members.admin, h.members.editor, h.members.viewer]) {
      const key = await h.keyFor(member);
      expect({ role: member.role, body: (await me(key.secret)).body }).toEqual({ role: member.role, body: { id: member.userId } });
    }
  });

  doc.statement('Useful for confirming credentials at startup or after rotating keys', async () => {
    const old = await h.keyFor(h.members.editor);
    const before = (await me(old.secret)).body;
    const fresh = ((await create(old.secret)).body as KeyView).key!;
    await h.request('DELETE', `/api/v1/api-keys/${old.record.id}`, { key: fresh });
    expect(await me(fresh)).toMatchObject({ status: 200, body: before });
    expect(refusedAsDocumented(await me(old.secret))).toEqual({ status: 401, body: UNAUTHORIZED });
  });

  doc.statement('Returns 401 Unauthorized if the key is missing or invalid', async () => {
    const missing = await h.request('GET', '/api/v1/auth/me');
    expect({ ...refusedAsDocumented(missing), challenge: missing.headers.get('www-authenticate') }).toEqual({ status: 401, body: UNAUTHORIZED, challenge: 'Bearer' });
    for (const invalid of ['not-a-key', EXAMPLE_KEY, recordSecret(generateKey(h.tessera.config.apiKeyFormat, 'live').key)]) {
      expect(refusedAsDocumented(await me(invalid))).toEqual({ status: 401, body: UNAUTHORIZED });
    }
  });

  doc.statement('GET /api/v1/api-keys — Returns a list of your API keys with metadata', async () => {
    const owner = await person(h, 'owner');
    const editor = await person(h, 'editor');
    const first = await h.keyFor(owner, { name: 'prod' });
    const second = await h.keyFor(owner, { name: 'staging' });
    const others = await h.keyFor(editor, { name: 'someone else’s' });
    const keys = await list(first.secret);
    // Your keys — an owner's list too — and no one else's in the organization.
    expect(keys.map((k) => k.id).sort()).toEqual([first.record.id, second.record.id].sort());
    expect(keys.map((k) => k.id)).not.toContain(others.record.id);
    // The key making the request is being used right now: its lastUsedAt is there, written or about to be.
    const using = keys.find((k) => k.id === first.record.id)!;
    expect(using).toMatchObject({ id: first.record.id, name: 'prod', createdAt: first.record.createdAt.toISOString() });
    expect('lastUsedAt' in using).toBe(true);
    expect(keys.find((k) => k.id === second.record.id)).toMatchObject({ id: second.record.id, name: 'staging', createdAt: second.record.createdAt.toISOString(), lastUsedAt: null });
  });

  doc.statement('(the actual key values are never returned)', async () => {
    const editor = await person(h, 'editor');
    const keys = await Promise.all([h.keyFor(editor, { name: 'a' }), h.keyFor(editor, { name: 'b' }), h.keyFor(editor)]);
    const res = await h.request('GET', '/api/v1/api-keys', { key: keys[0]!.secret });
    expect(res.status).toBe(200);
    for (const key of keys) expect(res.text).not.toContain(key.secret);
    expect((res.body as KeyView[]).every((k) => !('key' in k))).toBe(true);
  });

  doc.statement('"createdAt": "2025-12-10T12:00:00.000Z", "lastUsedAt": "2025-12-10T13:00:00.000Z"', async () => {
    const editor = await person(h, 'editor');
    const made = await h.keyFor(editor, { name: 'prod' });
    const created = made.record.createdAt.toISOString();
    const reader = await h.keyFor(editor, { name: 'reader' });
    expect((await list(reader.secret)).find((k) => k.id === made.record.id)).toMatchObject({ createdAt: created, lastUsedAt: null });
    h.clock.advance(3_600_000);
    const usedAt = h.clock.now().toISOString();
    expect((await me(made.secret)).status).toBe(200);
    // lastUsedAt is written after the answer, without delaying it: wait for the write.
    const until = Date.now() + 5_000;
    let entry = (await list(reader.secret)).find((k) => k.id === made.record.id);
    while (entry?.lastUsedAt !== usedAt && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 25));
      entry = (await list(reader.secret)).find((k) => k.id === made.record.id);
    }
    expect(entry).toMatchObject({ createdAt: created, lastUsedAt: usedAt });
    expect(usedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  doc.statement('POST /api/v1/api-keys — Request Body (optional): {"name": "prod"}', async () => {
    const key = (await h.keyFor(h.members.editor)).secret;
    // As the document's curl sends it: Content-Type: application/json, -d '{"name":"prod"}'.
    const res = await h.request('POST', '/api/v1/api-keys', { key, body: '{"name":"prod"}', headers: { 'content-type': 'application/json' } });
    expect(res).toMatchObject({ status: 201, body: { name: 'prod', key: expect.stringMatching(/^minds_/) } });
    expect((await list(key)).find((k) => k.id === (res.body as KeyView).id)).toMatchObject({ name: 'prod' });
  });

  doc.statement('string, 1–100 chars', async () => {
    const key = (await h.keyFor(await person(h, 'editor'))).secret;
    const longest = 'n'.repeat(100);
    expect(await create(key, { name: longest })).toMatchObject({ status: 201, body: { name: longest } });
    const before = (await list(key)).length;
    for (const name of ['n'.repeat(101), 42, ['prod']]) {
      const res = await create(key, { name });
      expect({ name, status: res.status }).toEqual({ name, status: 400 });
      expect(res.body).toMatchObject({ statusCode: 400, statusMessage: 'Bad Request' });
    }
    expect(await list(key)).toHaveLength(before);
  });

  doc.statement('It helps you identify keys in the list endpoint and in the Settings UI', async () => {
    const editor = await person(h, 'editor');
    const key = (await h.keyFor(editor, { name: 'reader' })).secret;
    const made = (await create(key, { name: 'Zapier prod' })).body as KeyView;
    expect((await list(key)).find((k) => k.id === made.id)).toMatchObject({ name: 'Zapier prod' });
    const page = await (await signedIn(h, editor)).get('/settings/api-keys');
    expect(page.body).toContain(`<a href="/settings/api-keys/${made.id}">Zapier prod</a>`);
  });

  doc.statement('Whitespace is trimmed', async () => {
    const key = (await h.keyFor(h.members.editor)).secret;
    expect(await create(key, { name: '  prod  ' })).toMatchObject({ status: 201, body: { name: 'prod' } });
    // Whitespace of every kind, as a name piped from a shell or pasted from a form brings it.
    for (const name of ['prod\n', '\tprod', ' prod\r\n']) {
      const res = await create(key, { name });
      expect({ name, status: res.status, stored: (res.body as KeyView).name }).toEqual({ name, status: 201, stored: 'prod' });
    }
  });

  doc.statement('an empty or missing value is stored as null', async () => {
    const key = (await h.keyFor(await person(h, 'editor'))).secret;
    const made: string[] = [];
    for (const body of [{ name: '' }, { name: '   ' }, {}, { name: null }]) {
      const res = await create(key, body);
      expect({ body, status: res.status, name: (res.body as KeyView).name }).toEqual({ body, status: 201, name: null });
      made.push((res.body as KeyView).id);
    }
    const stored = (await list(key)).filter((k) => made.includes(k.id));
    expect(stored.map((k) => k.name)).toEqual([null, null, null, null]);
  });

  doc.statement('An empty request body is still accepted and creates an unnamed key', async () => {
    const key = (await h.keyFor(h.members.editor)).secret;
    const res = await create(key);
    expect(res).toMatchObject({ status: 201, body: { name: null } });
    expect((await me((res.body as KeyView).key!)).body).toEqual({ id: h.members.editor.userId });
  });

  doc.statement('Response includes the actual key (only time you’ll see it)', async () => {
    const key = (await h.keyFor(h.members.editor)).secret;
    const res = await create(key, { name: 'prod' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: expect.any(String), name: 'prod', key: expect.stringMatching(/^minds_/), createdAt: h.clock.now().toISOString() });
    const made = res.body as KeyView;
    expect((await me(made.key!)).body).toEqual({ id: h.members.editor.userId });
  });

  doc.statement('Save the key value immediately! You won’t be able to retrieve it again.', async () => {
    const key = (await h.keyFor(h.members.editor)).secret;
    const made = (await create(key, { name: 'prod' })).body as KeyView;
    const reads = [
      await h.request('GET', '/api/v1/api-keys', { key }),
      await h.request('GET', `/api/v1/api-keys/${made.id}`, { key }),
      await h.request('PATCH', `/api/v1/api-keys/${made.id}`, { key, body: { name: 'renamed' } }),
      await h.request('GET', '/api/v1/auth/me', { key: made.key! }),
    ];
    for (const res of reads) {
      expect(res.status).toBe(200);
      expect(res.text).not.toContain(made.key!);
    }
  });

  doc.statement('DELETE /api/v1/api-keys/{keyId} — Returns 204 No Content with an empty body on success', async () => {
    const key = (await h.keyFor(h.members.editor)).secret;
    const made = (await create(key, { name: 'to delete' })).body as KeyView;
    const res = await h.request('DELETE', `/api/v1/api-keys/${made.id}`, { key });
    expect({ status: res.status, text: res.text }).toEqual({ status: 204, text: '' });
    expect((await list(key)).map((k) => k.id)).not.toContain(made.id);
    expect(refusedAsDocumented(await me(made.key!))).toEqual({ status: 401, body: UNAUTHORIZED });
  });

  doc.statement('{"statusCode": 401, "statusMessage": "Unauthorized", "message": "Invalid or missing API key"}', async () => {
    const deleted = await h.keyFor(h.members.editor);
    await h.request('DELETE', `/api/v1/api-keys/${deleted.record.id}`, { key: deleted.secret });
    const bad: Array<string | undefined> = [undefined, 'Bearer not-a-key', `Bearer ${EXAMPLE_KEY}`, `Bearer ${deleted.secret}`];
    for (const authorization of bad) {
      for (const res of [
        await h.request('GET', '/api/v1/api-keys', authorization === undefined ? {} : { authorization }),
        await h.request('GET', '/api/v1/auth/me', authorization === undefined ? {} : { authorization }),
        await call(minds, authorization === undefined ? {} : { authorization }),
      ]) {
        expect({ authorization, status: res.status, body: res.body, type: res.headers.get('content-type') }).toEqual({
          authorization,
          status: 401,
          body: UNAUTHORIZED,
          type: expect.stringMatching(/^application\/json/),
        });
      }
    }
  });

  doc.statement('Check that you’ve included the Authorization header', async () => {
    const key = (await h.keyFor(h.members.editor)).secret;
    expect(refusedAsDocumented(await h.request('GET', '/api/v1/api-keys'))).toEqual({ status: 401, body: UNAUTHORIZED });
    expect(refusedAsDocumented(await call(minds))).toEqual({ status: 401, body: UNAUTHORIZED });
    expect((await h.request('GET', '/api/v1/api-keys', { key })).status).toBe(200);
    expect((await call(minds, { key })).status).toBe(200);
  });

  doc.statement('Verify your API key is correct', async () => {
    const key = (await h.keyFor(h.members.editor)).secret;
    const last = key.at(-1)!;
    const mistyped = recordSecret(`${key.slice(0, -1)}${last === 'a' ? 'b' : 'a'}`);
    const truncated = recordSecret(key.slice(0, -1));
    for (const wrong of [mistyped, truncated, `${key}0`]) {
      expect(refusedAsDocumented(await h.request('GET', '/api/v1/api-keys', { key: wrong }))).toEqual({ status: 401, body: UNAUTHORIZED });
      expect(refusedAsDocumented(await call(minds, { key: wrong }))).toEqual({ status: 401, body: UNAUTHORIZED });
    }
    expect((await h.request('GET', '/api/v1/api-keys', { key })).status).toBe(200);
  });

  doc.statement('Ensure you’re using the Bearer prefix', async () => {
    const key = (await h.keyFor(h.members.editor)).secret;
    for (const authorization of [key, `Token ${key}`, `Basic ${key}`]) {
      expect(refusedAsDocumented(await h.request('GET', '/api/v1/auth/me', { authorization }))).toEqual({ status: 401, body: UNAUTHORIZED });
      expect(refusedAsDocumented(await call(minds, { authorization }))).toEqual({ status: 401, body: UNAUTHORIZED });
    }
    expect((await h.request('GET', '/api/v1/auth/me', { authorization: `Bearer ${key}` })).status).toBe(200);
  });

  doc.statement('Generate a new key if the old one was deleted', async () => {
    const editor = await person(h, 'editor');
    const only = await h.keyFor(editor, { name: 'only key' });
    await h.request('DELETE', `/api/v1/api-keys/${only.record.id}`, { key: only.secret });
    expect(refusedAsDocumented(await me(only.secret))).toEqual({ status: 401, body: UNAUTHORIZED });
    // With no key left, a new one comes from Settings.
    const made = await generate(await signedIn(h, editor), 'replacement');
    expect((await me(made.secret)).body).toEqual({ id: editor.userId });
    expect((await call(minds, { key: made.secret })).status).toBe(200);
  });

  doc.statement('API access is available to all users', async () => {
    for (const role of ['owner', 'admin', 'editor', 'viewer'] as const) {
      const member = await person(h, role);
      // Through the API, with a key of one's own…
      const key = (await h.keyFor(member)).secret;
      const res = await create(key, { name: `${role}’s key` });
      expect({ role, status: res.status }).toEqual({ role, status: 201 });
      expect((await me((res.body as KeyView).key!)).body).toEqual({ id: member.userId });
      // …and in Settings.
      const client = await signedIn(h, member);
      expect({ role, offered: (await client.get('/settings/api-keys')).body.includes('href="/settings/api-keys/new"') }).toEqual({ role, offered: true });
      const made = await generate(client, `${role}’s console key`);
      expect((await me(made.secret)).body).toEqual({ id: member.userId });
    }
  });

  doc.outOfScope('Never commit API keys to version control', 'advice to the product’s users; nothing for a service to serve');
  doc.outOfScope('Never share keys in public forums or chat', 'advice to the product’s users; nothing to serve');
  doc.outOfScope('Store keys in environment variables or secure vaults', 'advice on where integrations keep their keys; outside the service');
  doc.outOfScope('Rotate keys regularly for security', 'advice on how often; the steps it takes (generate, update, delete) are checked one by one');
  doc.outOfScope('export MINDS_API_KEY="minds_your_api_key_here"', 'a shell example of keeping the key in an environment variable; nothing reaches the service');
  doc.outOfScope('Free: 1 mind, no flows', 'a plan’s quota of the product’s own resources (minds, flows), not an identity matter');
  doc.outOfScope('Lite: 3 minds, 3 flows', 'a plan’s quota of the product’s own resources');
  doc.outOfScope('Premium/Academic/Team: Unlimited minds and flows', 'a plan’s quota of the product’s own resources');
  doc.outOfScope('View Plans', 'a link to the product’s pricing page');
});

doc.ends();
