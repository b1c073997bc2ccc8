/**
 * FlowMind's authentication document (../shared/seeds/000_739dfd534cf3db68.txt), statement by
 * statement, against Tessera running FlowMind's profile (config/profiles/flowmind.json) on the
 * memory stores: its own API (`GET /api/v1/goals`) through the resource-server kit on a small
 * product API, the console steps at the HTTP level, its 401 and 429 bodies word for word, its
 * rate-limit headers and its limits (100 a minute, 10,000 a day) on the frozen clock.
 */
import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import { generateKey } from '../../../src/domain/api-key-format.ts';
import { operatorActor } from '../../../src/services/accounts/operator-actor.ts';
import { principalOf } from '../../../kit/index.ts';
import { startApi, type ApiHarness } from '../../support/api-harness.ts';
import { askedToSignIn, call, conformance, createInConsole, expectKeysPage, expectShownOnce, formFromButton, newKeyOf, person, productApi, signedIn, signInOn, type ProductApi } from '../../support/conformance.ts';
import { ConsoleClient } from '../../support/console-client.ts';
import { recordSecret } from '../../support/log-capture.ts';

const ENV = { TESSERA_PROFILE: 'flowmind', TESSERA_AUTH_FAILURES_PER_MINUTE: '100000' };
/** The document's 401 body, as printed. */
const UNAUTHORIZED = { error: { code: 'UNAUTHORIZED', message: 'Invalid or missing API key' } };
const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

const doc = conformance('FlowMind');

/** FlowMind's own API: goals, guarded by the kit with FlowMind's scopes. */
async function goalsApi(h: ApiHarness): Promise<ProductApi> {
  return productApi(h, (router, guard) => {
    router.get('/api/v1/goals', guard(['goals:read']), (ctx) => {
      const principal = principalOf(ctx);
      ctx.body = { data: [{ id: 'goal_1', title: 'Run a marathon' }], user: principal.sub, env: principal.env };
    });
    router.post('/api/v1/goals', guard(['goals:write']), (ctx) => {
      ctx.status = 201;
      ctx.body = { id: 'goal_2', user: principalOf(ctx).sub };
    });
  });
}

/** The frozen clock moved on to the start of the next minute (fixed windows are aligned to it). */
function toMinuteStart(h: ApiHarness): void {
  h.clock.advance(MINUTE_MS - (h.clock.now().getTime() % MINUTE_MS));
}

describe('FlowMind: Authentication', () => {
  let h: ApiHarness;
  let api: ProductApi;
  let goals: string;

  beforeAll(async () => {
    h = await startApi('memory', ENV);
    api = await goalsApi(h);
    goals = `${api.url}/api/v1/goals`;
  });
  afterAll(async () => {
    await api.close();
    await h.close();
  });

  /** Creates a key on the console's form, as a person does: a live key that reads goals. */
  const generate = (client: ConsoleClient, name: string) => createInConsole(client, { name, scopes: ['goals:read'] });
  const actorOf = (userId: string) => operatorActor(h.tessera.stores, h.tessera.services.catalog, userId, h.orgA);

  doc.statement('The FlowMind API uses Bearer token authentication', async () => {
    const key = await h.keyFor(h.members.editor);
    expect(await call(goals, { key: key.secret })).toMatchObject({ status: 200, body: { user: h.members.editor.userId } });
    // The scheme is Bearer: the same key under another scheme is refused, and a refusal names the scheme.
    const basic = await call(goals, { authorization: `Basic ${Buffer.from(`${key.secret}:`).toString('base64')}` });
    expect({ status: basic.status, body: basic.body, challenge: basic.headers.get('www-authenticate') }).toEqual({ status: 401, body: UNAUTHORIZED, challenge: 'Bearer' });
  });

  doc.statement('Every request must include your API key in the Authorization header', async () => {
    const key = await h.keyFor(h.members.editor);
    for (const [method, route] of [['GET', 'goals:read'], ['POST', 'goals:write']] as const) {
      const without = await call(goals, { method });
      expect({ route, status: without.status, body: without.body }).toEqual({ route, status: 401, body: UNAUTHORIZED });
      expect((await call(goals, { method, key: key.secret })).status).toBe(method === 'GET' ? 200 : 201);
    }
    // Only in the Authorization header: a key in the query string or another header is no key.
    const query = await call(`${goals}?api_key=${encodeURIComponent(key.secret)}`);
    expect({ status: query.status, body: query.body }).toEqual({ status: 401, body: UNAUTHORIZED });
    const other = await fetch(goals, { headers: { 'x-api-key': key.secret } });
    expect({ status: other.status, body: await other.json() }).toEqual({ status: 401, body: UNAUTHORIZED });
  });

  doc.statement('Sign in to FlowMind', async () => {
    const editor = await person(h, 'editor');
    const client = new ConsoleClient(h.url);
    const page = await signInOn(client, await askedToSignIn(client, 'FlowMind'), editor);
    expect(page.body).toContain('FlowMind');
  });

  doc.statement('Go to Settings → API Keys', async () => {
    const editor = await person(h, 'editor');
    const actor = await actorOf(editor.userId);
    const existing = await h.tessera.services.apiKeys.create(actor, { name: 'Existing integration' });
    recordSecret(existing.secret);
    const client = await signedIn(h, editor);
    // The settings navigation leads to the API keys page, which lists the member's keys.
    expectKeysPage(await client.get('/settings/api-keys'), 'FlowMind', [existing.record]);
  });

  doc.statement('Click Generate New API Key', async () => {
    const editor = await person(h, 'editor');
    const client = await signedIn(h, editor);
    // The button says what the document says (the profile's console labels).
    const form = await formFromButton(client, 'Generate New API Key');
    expect(form.body).toContain('value="goals:read"');
    const made = await generate(client, 'From the console');
    expect(made.secret.startsWith('fm_live_')).toBe(true);
    expect(await call(goals, { key: made.secret })).toMatchObject({ status: 200, body: { user: editor.userId } });
  });

  doc.statement('Give your key a descriptive name (e.g., "Zapier Integration")', async () => {
    const editor = await person(h, 'editor');
    const client = await signedIn(h, editor);
    const made = await generate(client, 'Zapier Integration');
    expect(made.page.body).toContain('Zapier Integration');
    expect((await client.get('/settings/api-keys')).body).toContain(`<a href="/settings/api-keys/${made.id}">Zapier Integration</a>`);
    expect((await client.get(`/settings/api-keys/${made.id}`)).body).toContain('<h1>Zapier Integration</h1>');
    expect(await h.tessera.stores.apiKeys.findById(made.id)).toMatchObject({ name: 'Zapier Integration' });
  });

  doc.statement('Copy the key immediately — it won’t be displayed again', async () => {
    const editor = await person(h, 'editor');
    const client = await signedIn(h, editor);
    const made = await generate(client, 'Shown once');
    // Never again: on no page of the console, and not through the API.
    await expectShownOnce(client, made);
    const manager = await h.tessera.services.apiKeys.create(await actorOf(editor.userId), { name: 'manages keys', scopes: ['keys:read'] });
    const reader = recordSecret(manager.secret);
    const listed = await h.request('GET', '/api/v1/api-keys', { key: reader });
    expect(listed.status).toBe(200);
    expect(listed.text).toContain(made.id);
    expect(listed.text).not.toContain(made.secret);
    const read = await h.request('GET', `/api/v1/api-keys/${made.id}`, { key: reader });
    expect(read.status).toBe(200);
    expect(read.text).not.toContain(made.secret);
  });

  doc.statement('curl -X GET "https://flowmind.life/api/v1/goals" -H "Authorization: Bearer YOUR_API_KEY"', async () => {
    const key = await h.keyFor(h.members.viewer);
    const res = await call(goals, { authorization: `Bearer ${key.secret}` });
    expect(res).toMatchObject({ status: 200, body: { data: [{ id: 'goal_1' }], user: h.members.viewer.userId } });
  });

  doc.statement('\'Content-Type\': \'application/json\' (the JavaScript and Python examples)', async () => {
    const key = await h.keyFor(h.members.editor);
    // fetch(…, {headers: {Authorization, Content-Type}}) and requests.get(…, headers=…): a GET with both headers, then .json().
    const res = await fetch(goals, { headers: { authorization: recordSecret(`Bearer ${key.secret}`), 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toMatchObject({ user: h.members.editor.userId });
  });

  doc.statement('If authentication fails, you’ll receive a 401 Unauthorized response: {"error": {"code": "UNAUTHORIZED", "message": "Invalid or missing API key"}}', async () => {
    const res = await fetch(goals, { headers: { authorization: 'Bearer not-a-flowmind-key' } });
    expect(res.status).toBe(401);
    expect(res.statusText).toBe('Unauthorized');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual(UNAUTHORIZED);
  });

  doc.statement('Missing Authorization header', async () => {
    const res = await call(goals);
    expect({ status: res.status, body: res.body, challenge: res.headers.get('www-authenticate') }).toEqual({ status: 401, body: UNAUTHORIZED, challenge: 'Bearer' });
  });

  doc.statement('Incorrect API key', async () => {
    const key = await h.keyFor(h.members.editor);
    const neverIssued = recordSecret(generateKey(h.tessera.config.apiKeyFormat, 'live').key);
    const last = key.secret.at(-1)!;
    const mistyped = recordSecret(`${key.secret.slice(0, -1)}${last === 'a' ? 'b' : 'a'}`);
    const truncated = recordSecret(key.secret.slice(0, -2));
    for (const wrong of [neverIssued, mistyped, truncated]) {
      const res = await call(goals, { key: wrong });
      expect({ status: res.status, body: res.body }).toEqual({ status: 401, body: UNAUTHORIZED });
    }
    expect((await call(goals, { key: key.secret })).status).toBe(200);
  });

  doc.statement('Expired or revoked API key', async () => {
    const expiring = await h.keyFor(h.members.editor, { expiresAt: new Date(h.clock.now().getTime() + 60_000) });
    const revoked = await h.keyFor(h.members.editor);
    expect((await call(goals, { key: expiring.secret })).status).toBe(200);
    expect((await call(goals, { key: revoked.secret })).status).toBe(200);
    await h.tessera.services.apiKeys.revoke(await actorOf(h.members.editor.userId), revoked.record.id);
    h.clock.advance(60_000);
    for (const key of [expiring.secret, revoked.secret]) {
      const res = await call(goals, { key });
      expect({ status: res.status, body: res.body }).toEqual({ status: 401, body: UNAUTHORIZED });
    }
  });

  doc.statement('Missing Bearer prefix', async () => {
    const key = await h.keyFor(h.members.editor);
    const res = await call(goals, { authorization: key.secret });
    expect({ status: res.status, body: res.body, challenge: res.headers.get('www-authenticate') }).toEqual({ status: 401, body: UNAUTHORIZED, challenge: 'Bearer' });
    expect((await call(goals, { authorization: `Bearer ${key.secret}` })).status).toBe(200);
  });

  doc.statement('Requests per minute | 100', async () => {
    toMinuteStart(h);
    const key = await h.keyFor(h.members.editor);
    const statuses = await Promise.all(Array.from({ length: 100 }, () => call(goals, { key: key.secret }).then((r) => r.status)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(100);
    expect((await call(goals, { key: key.secret })).status).toBe(429);
    // The next minute is a new window.
    toMinuteStart(h);
    expect((await call(goals, { key: key.secret })).status).toBe(200);
  });

  doc.statement('Every response includes rate limit information: X-RateLimit-Limit: 100, X-RateLimit-Remaining: 95, X-RateLimit-Reset: 1703001600', async () => {
    toMinuteStart(h);
    const key = await h.keyFor(h.members.editor);
    const minuteEnds = (h.clock.now().getTime() + MINUTE_MS) / 1000;
    for (let i = 1; i <= 5; i++) {
      const last = await call(goals, { key: key.secret });
      expect({ i, status: last.status, limit: last.headers.get('x-ratelimit-limit'), remaining: last.headers.get('x-ratelimit-remaining'), reset: last.headers.get('x-ratelimit-reset') }).toEqual({
        i,
        status: 200,
        limit: '100',
        remaining: String(100 - i),
        reset: String(minuteEnds),
      });
    }
    // The refused request carries them too.
    await Promise.all(Array.from({ length: 95 }, () => call(goals, { key: key.secret })));
    const refused = await call(goals, { key: key.secret });
    expect({ status: refused.status, limit: refused.headers.get('x-ratelimit-limit'), remaining: refused.headers.get('x-ratelimit-remaining'), reset: refused.headers.get('x-ratelimit-reset') }).toEqual({
      status: 429,
      limit: '100',
      remaining: '0',
      reset: String(minuteEnds),
    });
  });

  doc.statement('429 Too Many Requests: {"error": {"code": "RATE_LIMITED", "message": "Rate limit exceeded. Please retry after 60 seconds."}}', async () => {
    toMinuteStart(h);
    const key = await h.keyFor(h.members.editor);
    await Promise.all(Array.from({ length: 100 }, () => call(goals, { key: key.secret })));
    const res = await fetch(goals, { headers: { authorization: recordSecret(`Bearer ${key.secret}`) } });
    expect({ status: res.status, statusText: res.statusText }).toEqual({ status: 429, statusText: 'Too Many Requests' });
    expect(await res.json()).toEqual({ error: { code: 'RATE_LIMITED', message: 'Rate limit exceeded. Please retry after 60 seconds.' } });
  });

  doc.statement('The Retry-After header indicates how many seconds to wait before retrying', async () => {
    toMinuteStart(h);
    const key = await h.keyFor(h.members.editor);
    await Promise.all(Array.from({ length: 100 }, () => call(goals, { key: key.secret })));
    const first = await call(goals, { key: key.secret });
    expect({ status: first.status, retryAfter: first.headers.get('retry-after') }).toEqual({ status: 429, retryAfter: '60' });
    h.clock.advance(30_000);
    const later = await call(goals, { key: key.secret });
    expect({ status: later.status, retryAfter: later.headers.get('retry-after'), body: later.body }).toEqual({
      status: 429,
      retryAfter: '30',
      body: { error: { code: 'RATE_LIMITED', message: 'Rate limit exceeded. Please retry after 30 seconds.' } },
    });
    // Waiting that long is enough.
    h.clock.advance(Number(later.headers.get('retry-after')) * 1000);
    expect((await call(goals, { key: key.secret })).status).toBe(200);
  });

  doc.statement('Use different keys for development and production', async () => {
    const development = await h.keyFor(h.members.editor, { name: 'development', env: 'test' });
    const production = await h.keyFor(h.members.editor, { name: 'production', env: 'live' });
    expect(development.secret.startsWith('fm_test_')).toBe(true);
    expect(production.secret.startsWith('fm_live_')).toBe(true);
    expect(await call(goals, { key: development.secret })).toMatchObject({ status: 200, body: { env: 'test' } });
    expect(await call(goals, { key: production.secret })).toMatchObject({ status: 200, body: { env: 'live' } });
    // Separate keys: giving up the development key leaves production untouched.
    await h.tessera.services.apiKeys.revoke(await actorOf(h.members.editor.userId), development.record.id);
    expect((await call(goals, { key: development.secret })).status).toBe(401);
    expect((await call(goals, { key: production.secret })).status).toBe(200);
  });

  doc.statement('Rotate keys periodically', async () => {
    const editor = await person(h, 'editor');
    const client = await signedIn(h, editor);
    const old = await generate(client, 'To rotate');
    await client.get(`/settings/api-keys/${old.id}`);
    const rotated = await client.post(`/settings/api-keys/${old.id}/rotate`, { grace_period_seconds: '0' });
    expect(rotated.status).toBe(201);
    const next = newKeyOf(rotated.body);
    expect(next).not.toBe(old.secret);
    expect(await call(goals, { key: next })).toMatchObject({ status: 200, body: { user: editor.userId } });
    expect(await call(goals, { key: old.secret })).toMatchObject({ status: 401, body: UNAUTHORIZED });
  });

  doc.statement('Revoke unused keys immediately', async () => {
    const editor = await person(h, 'editor');
    const client = await signedIn(h, editor);
    const unused = await generate(client, 'Never used');
    const used = await generate(client, 'In use');
    expect((await call(goals, { key: used.secret })).status).toBe(200);
    // The list tells an unused key from a used one…
    const list = (await client.get('/settings/api-keys')).body;
    const row = (id: string) => list.split('<tr>').find((r) => r.includes(`/settings/api-keys/${id}"`)) ?? '';
    expect(row(unused.id)).toMatch(/data-label="Last used"><span class="muted">Never<\/span>/);
    expect(row(used.id)).toMatch(/data-label="Last used"><time datetime=/);
    // …and revoking it takes effect at once.
    await client.get(`/settings/api-keys/${unused.id}/delete`);
    await client.post(`/settings/api-keys/${unused.id}/delete`);
    expect(await call(goals, { key: unused.secret })).toMatchObject({ status: 401, body: UNAUTHORIZED });
    expect((await call(goals, { key: used.secret })).status).toBe(200);
  });

  doc.statement('Find the compromised key', async () => {
    const editor = await person(h, 'editor');
    const client = await signedIn(h, editor);
    const compromised = await generate(client, 'Leaked in a gist');
    await generate(client, 'Another integration');
    const list = (await client.get('/settings/api-keys')).body;
    // Found by its name, and by the start of the key itself (shown masked), leading to its page.
    const start = (await h.tessera.stores.apiKeys.findById(compromised.id))!.start!;
    expect(compromised.secret.startsWith(start)).toBe(true);
    expect(start.length).toBeGreaterThan('fm_live_'.length);
    const row = list.split('<tr>').find((r) => r.includes(`/settings/api-keys/${compromised.id}"`)) ?? '';
    expect(row).toContain('Leaked in a gist');
    expect(row).toContain(`<code>${start}…</code>`);
    expect(list).not.toContain(compromised.secret);
  });

  doc.statement('Click Revoke', async () => {
    const editor = await person(h, 'editor');
    const client = await signedIn(h, editor);
    const made = await generate(client, 'To revoke');
    expect((await call(goals, { key: made.secret })).status).toBe(200);
    const page = await client.get(`/settings/api-keys/${made.id}`);
    expect(page.body).toContain(`<a class="button danger" href="/settings/api-keys/${made.id}/delete">Revoke…</a>`);
    const confirmation = await client.get(`/settings/api-keys/${made.id}/delete`);
    expect(confirmation.body).toContain('Revoke “To revoke”?');
    expect(confirmation.body).toContain('>Revoke key</button>');
    const done = await client.post(`/settings/api-keys/${made.id}/delete`);
    expect(done.url.pathname).toBe('/settings/api-keys');
    expect(done.body).not.toContain(`/settings/api-keys/${made.id}"`);
    expect(await call(goals, { key: made.secret })).toMatchObject({ status: 401, body: UNAUTHORIZED });
  });

  doc.statement('Generate a new key and update your integrations', async () => {
    const editor = await person(h, 'editor');
    const client = await signedIn(h, editor);
    const old = await generate(client, 'Zapier Integration');
    await client.get(`/settings/api-keys/${old.id}/delete`);
    await client.post(`/settings/api-keys/${old.id}/delete`);
    const replacement = await generate(client, 'Zapier Integration');
    expect(replacement.secret).not.toBe(old.secret);
    expect(await call(goals, { key: replacement.secret })).toMatchObject({ status: 200, body: { user: editor.userId } });
    expect((await call(goals, { key: old.secret })).status).toBe(401);
  });

  doc.statement('Revoked keys are immediately invalidated', async () => {
    const key = await h.keyFor(h.members.editor);
    // Used just before: whatever was cached of it must not outlive the revocation.
    expect((await call(goals, { key: key.secret })).status).toBe(200);
    expect((await h.request('GET', '/api/v1/me', { key: key.secret })).status).toBe(200);
    await h.tessera.services.apiKeys.revoke(await actorOf(h.members.editor.userId), key.record.id);
    // No time passes on the clock.
    expect(await call(goals, { key: key.secret })).toMatchObject({ status: 401, body: UNAUTHORIZED });
    expect(await h.request('GET', '/api/v1/me', { key: key.secret })).toMatchObject({ status: 401, body: UNAUTHORIZED });
  });

  doc.statement('cannot be restored', async () => {
    const editor = await person(h, 'editor');
    const manager = await h.keyFor(h.members.owner);
    const client = await signedIn(h, editor);
    const made = await generate(client, 'Gone for good');
    await client.get(`/settings/api-keys/${made.id}/delete`);
    await client.post(`/settings/api-keys/${made.id}/delete`);
    // Neither the API (even an owner's key) nor the console brings it back.
    expect((await h.request('PATCH', `/api/v1/api-keys/${made.id}`, { key: manager.secret, body: { active: true } })).status).toBe(404);
    expect((await client.get(`/settings/api-keys/${made.id}`)).status).toBe(404);
    await client.get('/settings/api-keys');
    expect((await client.post(`/settings/api-keys/${made.id}/enable`)).status).toBe(404);
    await expect(h.tessera.services.apiKeys.update(await actorOf(editor.userId), made.id, { active: true })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await call(goals, { key: made.secret })).toMatchObject({ status: 401, body: UNAUTHORIZED });
  });

  doc.outOfScope('Treat your API key like a password', 'advice to the product’s users on keeping a secret; nothing for a service to serve');
  doc.outOfScope('Never share it publicly or commit it to version control', 'advice to the product’s users; nothing to serve');
  doc.outOfScope('Store API keys in environment variables', 'advice on where integrations keep their keys; outside the service');
  doc.outOfScope('Commit API keys to Git repositories', 'advice (a Don’t) to the product’s users; nothing to serve');
  doc.outOfScope('Share keys in chat or email', 'advice (a Don’t) to the product’s users; nothing to serve');
  doc.outOfScope('Use API keys in client-side JavaScript', 'advice (a Don’t) about where integrations run; nothing to serve');
  doc.outOfScope('Log API keys in application logs', 'advice (a Don’t) to the product’s users about their applications’ logs');
  doc.outOfScope('Updated about 8 hours ago', 'the documentation page’s own metadata');
});

describe('FlowMind: the daily limit', () => {
  let h: ApiHarness;
  let api: ProductApi;

  beforeAll(async () => {
    h = await startApi('memory', ENV);
    api = await goalsApi(h);
    // The start of a UTC day, so that 100 minutes of requests stay within it.
    h.clock.advance(DAY_MS - (h.clock.now().getTime() % DAY_MS));
  });
  afterAll(async () => {
    await api.close();
    await h.close();
  });

  doc.statement(
    'Requests per day | 10,000',
    async () => {
      const key = await h.keyFor(h.members.editor);
      const goals = `${api.url}/api/v1/goals`;
      let admitted = 0;
      // 100 minutes of 100 requests each: within every minute's limit, 10,000 in the day.
      for (let minute = 0; minute < 100; minute++) {
        const statuses = await Promise.all(Array.from({ length: 100 }, () => call(goals, { key: key.secret }).then((r) => r.status)));
        admitted += statuses.filter((s) => s === 200).length;
        h.clock.advance(MINUTE_MS);
      }
      expect(admitted).toBe(10_000);
      const dayEnds = Math.ceil(h.clock.now().getTime() / DAY_MS) * DAY_MS;
      const refused = await call(goals, { key: key.secret });
      const wait = Math.ceil((dayEnds - h.clock.now().getTime()) / 1000);
      expect({ status: refused.status, body: refused.body, retryAfter: refused.headers.get('retry-after'), limit: refused.headers.get('x-ratelimit-limit') }).toEqual({
        status: 429,
        body: { error: { code: 'RATE_LIMITED', message: `Rate limit exceeded. Please retry after ${wait} seconds.` } },
        retryAfter: String(wait),
        limit: '10000',
      });
      // The next UTC day starts afresh.
      h.clock.advance(dayEnds - h.clock.now().getTime());
      expect((await call(goals, { key: key.secret })).status).toBe(200);
    },
    180_000,
  );
});

doc.ends();
