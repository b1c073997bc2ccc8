/**
 * Flowy's public document on API keys (../shared/seeds/004_6f56f81028309cdc.txt), checked against
 * Tessera run with the Flowy profile (config/profiles/flowy.json) on the memory stores and on
 * MongoDB + Redis: flw_sk_ keys made by workspace owners and editors in the console, shown once;
 * a key's safeguards (daily spend cap, rate limit, revoke, last used) and the workspace's credit
 * balance; and the product's own API (/apps, runs that cost credits) guarded by the kit.
 *
 * Each statement is registered once and checked on both stores, one after the other: a failure
 * names the store it happened on.
 */
import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import type Koa from 'koa';
import { principalOf } from '../../../kit/index.ts';
import type { Role } from '../../../src/domain/accounts.ts';
import type { FailureReason } from '../../../src/domain/profile.ts';
import type { CreateKeyInput } from '../../../src/services/keys/api-key-service.ts';
import { startApi, type ApiHarness, type KeyView, type StoreMode } from '../../support/api-harness.ts';
import { askedToSignIn, call, conformance, createInConsole, expectKeysPage, expectShownOnce, formFromButton, peopleOf, productApi, profileOf, refusalsOf, signedIn, signInOn, type Person, type ProductApi } from '../../support/conformance.ts';
import { ConsoleClient } from '../../support/console-client.ts';
import { recordSecret } from '../../support/log-capture.ts';
import { uniqueName } from '../../support/unique.ts';

const PROFILE = profileOf('flowy');
const { expectRefused } = refusalsOf(PROFILE);
const MODES: readonly StoreMode[] = ['memory', 'external'];
const TIMEOUT = 60_000;
/** What one run of an app costs, in credits (the product decides; any whole number would do). */
const RUN_COST = 5;

interface Balance {
  org_id: string;
  credited: number;
  spent: number;
  available: number;
}

/** One Tessera with the Flowy profile, its people in workspace A, and Flowy's API on the kit. */
interface World {
  mode: StoreMode;
  h: ApiHarness;
  api: ProductApi;
  people: Record<Role, Person>;
}

async function startWorld(mode: StoreMode): Promise<World> {
  const h = await startApi(mode, { TESSERA_PROFILE: 'flowy', TESSERA_AUTH_FAILURES_PER_MINUTE: '100000' });
  const people = await peopleOf(h);
  // Workspaces A and B have credits, so that runs are refused only where a statement says.
  for (const orgId of [h.orgA, h.orgB]) await h.tessera.services.balances.creditByOperator(orgId, 1_000_000);
  const api = await productApi(h, (router, guard) => {
    const who = (ctx: Koa.Context) => {
      const p = principalOf(ctx);
      return { org_id: p.org_id, key_id: p.key_id };
    };
    router.get('/apps', guard(), (ctx) => {
      ctx.body = { data: [{ id: 'app_1', name: 'Portrait studio' }], ...who(ctx) };
    });
    router.post('/apps/:id/runs', guard(['apps:run'], RUN_COST), (ctx) => {
      ctx.status = 201;
      ctx.body = { data: { app: ctx.params.id, status: 'queued' }, ...who(ctx) };
    });
  });
  return { mode, h, api, people };
}

const doc = conformance('Flowy');

describe('Flowy: API keys', () => {
  const worlds = new Map<StoreMode, World>();

  beforeAll(async () => {
    for (const world of await Promise.all(MODES.map(startWorld))) worlds.set(world.mode, world);
  }, 120_000);
  afterAll(async () => {
    for (const world of worlds.values()) {
      await world.api.close();
      await world.h.close();
    }
  });

  /** The statement's check, on the memory stores and then on MongoDB + Redis; a failure names its store. */
  const onBoth =
    (check: (w: World) => Promise<void>): (() => Promise<void>) =>
    async () => {
      const failures: Error[] = [];
      for (const mode of MODES) {
        try {
          await check(worlds.get(mode)!);
        } catch (error) {
          const failure = error instanceof Error ? error : new Error(String(error));
          failure.message = `[${mode}] ${failure.message}`;
          failures.push(failure);
        }
      }
      if (failures.length === 1) throw failures[0];
      if (failures.length > 1) throw new Error(failures.map((f) => f.message).join('\n\n'));
    };

  const keyOf = async (w: World, role: Role, input: CreateKeyInput = {}) => w.h.keyFor(w.people[role], input);
  const apps = (w: World, key?: string) => call(`${w.api.url}/apps`, key === undefined ? {} : { key });
  const run = (w: World, key?: string) => call(`${w.api.url}/apps/app_1/runs`, { method: 'POST', ...(key === undefined ? {} : { key }) });
  const apiCreate = async (w: World, key: string, body: Record<string, unknown>): Promise<KeyView> => {
    const res = await w.h.request('POST', '/api/v1/api-keys', { key, body });
    expect({ status: res.status, body: res.body }).toEqual({ status: 201, body: expect.anything() });
    recordSecret((res.body as KeyView).key!);
    return res.body as KeyView;
  };
  /** A workspace of its own, with an owner, for statements about its balance. */
  const newWorkspace = async (w: World) => {
    const org = await w.h.tessera.services.accounts.createOrganization({ name: uniqueName('Studio') });
    const user = await w.h.tessera.services.accounts.createUser({ email: `${uniqueName('studio')}@example.com`, name: 'studio owner' });
    await w.h.tessera.services.accounts.setMembership(user.id, org.id, 'owner');
    const owner = { userId: user.id, role: 'owner' as const };
    return { orgId: org.id, key: (input: CreateKeyInput = {}) => w.h.keyFor(owner, input, org.id) };
  };
  const balanceOf = async (w: World, key: string): Promise<Balance> => {
    const res = await w.h.request('GET', '/api/v1/balance', { key });
    expect(res.status).toBe(200);
    return res.body as Balance;
  };
  const untilNextMinute = (w: World) => {
    const now = w.h.clock.now().getTime();
    return (Math.floor(now / 60_000) + 1) * 60_000 - now;
  };
  const untilMidnight = (w: World) => {
    const now = w.h.clock.now().getTime();
    return (Math.floor(now / 86_400_000) + 1) * 86_400_000 - now;
  };

  doc.statement(
    'go to Settings → API keys',
    onBoth(async (w) => {
      const teammate = await keyOf(w, 'editor', { name: uniqueName('editor key') });
      const client = new ConsoleClient(w.h.url);
      const page = await signInOn(client, await askedToSignIn(client, PROFILE.product), w.people.owner);
      // The workspace's keys, a teammate's included.
      expectKeysPage(page, PROFILE.product, [teammate.record]);
    }),
    TIMEOUT,
  );

  doc.statement(
    'You’ll need to be a workspace owner or editor',
    onBoth(async (w) => {
      for (const role of ['owner', 'editor'] as const) {
        const client = await signedIn(w.h, w.people[role]);
        expect({ role, create: (await client.get('/settings/api-keys')).body.includes('href="/settings/api-keys/new"') }).toEqual({ role, create: true });
        await createInConsole(client, { name: `made by the ${role}` });
        await apiCreate(w, (await keyOf(w, role)).secret, { name: `made by the ${role} through the API` });
      }
      // A viewer: no button, the form and a forged post refused, and the API refuses too.
      const viewerKeys = async () => (await w.h.tessera.stores.apiKeys.listForOrg(w.h.orgA, { userId: w.people.viewer.userId })).length;
      const viewerKey = (await keyOf(w, 'viewer')).secret;
      const before = await viewerKeys();
      const viewer = await signedIn(w.h, w.people.viewer);
      expect((await viewer.get('/settings/api-keys')).body).not.toContain('href="/settings/api-keys/new"');
      expect((await viewer.get('/settings/api-keys/new')).status).toBe(403);
      expect((await viewer.post('/settings/api-keys', { name: 'sneaky', expires: '' })).status).toBe(403);
      const refused = await w.h.request('POST', '/api/v1/api-keys', { key: viewerKey, body: { name: 'sneaky' } });
      expect(refused.status).toBe(403);
      expect(await viewerKeys()).toBe(before);
    }),
    TIMEOUT,
  );

  doc.statement(
    'Click Create API key, give it a name',
    onBoth(async (w) => {
      const client = await signedIn(w.h, w.people.editor);
      await formFromButton(client, 'Create API key');
      const name = uniqueName('Nightly renders');
      const { page, id } = await createInConsole(client, { name });
      expect(page.body).toContain(name);
      const listed = (await w.h.request('GET', '/api/v1/api-keys', { key: (await keyOf(w, 'editor')).secret })).body as KeyView[];
      expect(listed.find((k) => k.id === id)?.name).toBe(name);
    }),
    TIMEOUT,
  );

  doc.statement(
    'optionally set a daily spend cap and rate limit under Advanced options',
    onBoth(async (w) => {
      const client = await signedIn(w.h, w.people.editor);
      const form = await client.get('/settings/api-keys/new');
      const set = await createInConsole(client, { name: 'with safeguards', daily_spend_cap: '7', rate_limit_per_minute: '9' });
      const unset = await createInConsole(client, { name: 'without safeguards' });
      const limitsOf = async (id: string) => (await w.h.tessera.stores.apiKeys.findById(id))!.limits;
      expect(await limitsOf(set.id)).toMatchObject({ dailySpendCap: 7, rateLimitPerMinute: 9 });
      expect(await limitsOf(unset.id)).toMatchObject({ dailySpendCap: null, rateLimitPerMinute: null });
      // Both fields sit in a folded section named as the document names it.
      const folded = [...form.body.matchAll(/<details><summary>([^<]*)<\/summary>((?:(?!<\/details>).)*)<\/details>/gs)].map((m) => ({
        summary: m[1]!,
        fields: ['daily_spend_cap', 'rate_limit_per_minute'].filter((field) => m[2]!.includes(`name="${field}"`)),
      }));
      expect(folded).toEqual(expect.arrayContaining([{ summary: expect.stringMatching(/^Advanced options$/i), fields: ['daily_spend_cap', 'rate_limit_per_minute'] }]));
    }),
    TIMEOUT,
  );

  doc.statement(
    'it looks like flw_sk_…',
    onBoth(async (w) => {
      const made = await apiCreate(w, (await keyOf(w, 'owner')).secret, { name: 'format' });
      expect({ key: made.key, start: made.start }).toEqual({ key: expect.stringMatching(/^flw_sk_[0-9A-Za-z]+$/), start: expect.stringMatching(/^flw_sk_/) });
      const { secret } = await createInConsole(await signedIn(w.h, w.people.editor), { name: 'format in the console' });
      expect(secret).toMatch(/^flw_sk_[0-9A-Za-z]+$/);
      expect((await apps(w, secret)).status).toBe(200);
    }),
    TIMEOUT,
  );

  doc.statement(
    'is shown once',
    onBoth(async (w) => {
      const client = await signedIn(w.h, w.people.editor);
      const shown = await createInConsole(client, { name: 'shown once' });
      await expectShownOnce(client, shown);
      const { id, secret } = shown;
      const manager = (await keyOf(w, 'owner')).secret;
      for (const path of ['/api/v1/api-keys', `/api/v1/api-keys/${id}`]) {
        const res = await w.h.request('GET', path, { key: manager });
        expect({ path, status: res.status, shown: res.text.includes(secret) }).toEqual({ path, status: 200, shown: false });
      }
      const made = await apiCreate(w, manager, { name: 'by the API' });
      const read = await w.h.request('GET', `/api/v1/api-keys/${made.id}`, { key: manager });
      expect(read.body).not.toHaveProperty('key');
      expect(read.text).not.toContain(made.key!);
    }),
    TIMEOUT,
  );

  doc.statement(
    'Send the key as a Bearer token in the Authorization header on every request',
    onBoth(async (w) => {
      const { secret } = await keyOf(w, 'editor');
      // As the curl example sends it.
      const res = await fetch(`${w.api.url}/apps`, { headers: { Authorization: recordSecret(`Bearer ${secret}`) } });
      expect({ status: res.status, data: ((await res.json()) as { data: unknown }).data }).toEqual({ status: 200, data: expect.any(Array) });
      for (const authorization of [`Basic ${Buffer.from(`${secret}:`).toString('base64')}`, secret]) {
        expectRefused(await call(`${w.api.url}/apps`, { authorization }), 'missing', {}, 'another scheme');
      }
      expectRefused(await call(`${w.api.url}/apps?api_key=${encodeURIComponent(secret)}`), 'missing', {}, 'the key in the query');
      expectRefused(await apps(w), 'missing', {}, 'the next request without the header');
    }),
    TIMEOUT,
  );

  doc.statement(
    'A key belongs to a workspace',
    onBoth(async (w) => {
      const ofA = await keyOf(w, 'editor');
      const ofB = await w.h.keyFor(w.h.members.ownerB);
      expect(await apps(w, ofA.secret)).toMatchObject({ status: 200, body: { org_id: w.h.orgA, key_id: ofA.record.id } });
      expect(await apps(w, ofB.secret)).toMatchObject({ status: 200, body: { org_id: w.h.orgB, key_id: ofB.record.id } });
      expect((await w.h.request('GET', '/api/v1/me', { key: ofA.secret })).body).toMatchObject({ org_id: w.h.orgA });
      // Another workspace does not see it.
      expect((await w.h.request('GET', `/api/v1/api-keys/${ofA.record.id}`, { key: ofB.secret })).status).toBe(404);
      const listedInB = ((await w.h.request('GET', '/api/v1/api-keys', { key: ofB.secret })).body as KeyView[]).map((k) => k.id);
      expect(listedInB).not.toContain(ofA.record.id);
    }),
    TIMEOUT,
  );

  doc.statement(
    'every run you start with it is billed to that workspace',
    onBoth(async (w) => {
      const ownerA = (await keyOf(w, 'owner')).secret;
      const ownerB = (await w.h.keyFor(w.h.members.ownerB)).secret;
      const editorKey = (await keyOf(w, 'editor')).secret;
      const [a, b] = [await balanceOf(w, ownerA), await balanceOf(w, ownerB)];
      for (let i = 0; i < 2; i++) expect((await run(w, editorKey)).status).toBe(201);
      expect(await balanceOf(w, ownerA)).toEqual({ ...a, spent: a.spent + 2 * RUN_COST, available: a.available - 2 * RUN_COST });
      expect(await balanceOf(w, ownerB)).toEqual(b);
    }),
    TIMEOUT,
  );

  doc.statement(
    'A missing, malformed, revoked, or expired key returns 401 Unauthorized',
    onBoth(async (w) => {
      const manager = (await keyOf(w, 'owner')).secret;
      const revoked = await apiCreate(w, manager, { name: 'revoked' });
      expect((await w.h.request('DELETE', `/api/v1/api-keys/${revoked.id}`, { key: manager })).status).toBe(204);
      const expiring = await apiCreate(w, manager, { name: 'expiring', expires_at: new Date(w.h.clock.now().getTime() + 60_000).toISOString() });
      expect((await apps(w, expiring.key!)).status).toBe(200);
      w.h.clock.advance(60_000 + w.h.tessera.config.principalCacheMaxAgeMs);
      const good = (await keyOf(w, 'editor')).secret;
      const badChecksum = recordSecret(`${good.slice(0, -1)}${good.endsWith('A') ? 'B' : 'A'}`);
      const cases: Array<[string, string | undefined, FailureReason]> = [
        ['missing', undefined, 'missing'],
        ['malformed: not a key', 'not-a-flowy-key', 'malformed'],
        ['malformed: a wrong checksum', badChecksum, 'malformed'],
        ['revoked', revoked.key!, 'revoked'],
        ['expired', expiring.key!, 'expired'],
      ];
      for (const [what, key, reason] of cases) {
        expectRefused(await apps(w, key), reason, {}, `GET /apps, ${what}`);
        expectRefused(await run(w, key), reason, {}, `POST /apps/app_1/runs, ${what}`);
      }
    }),
    TIMEOUT,
  );

  doc.statement(
    'set them when you create or edit a key',
    onBoth(async (w) => {
      const manager = (await keyOf(w, 'owner')).secret;
      const made = await apiCreate(w, manager, { name: 'guarded', limits: { rate_limit_per_minute: 2, daily_spend_cap: 100 } });
      expect(made.limits).toEqual({ rate_limit_per_minute: 2, rate_limit_per_day: null, daily_spend_cap: 100 });
      expect([(await apps(w, made.key!)).status, (await apps(w, made.key!)).status, (await apps(w, made.key!)).status]).toEqual([200, 200, 429]);
      // Edited: a higher rate and no more spending, at once.
      const edited = await w.h.request('PATCH', `/api/v1/api-keys/${made.id}`, { key: manager, body: { limits: { rate_limit_per_minute: 10, daily_spend_cap: 0 } } });
      expect(edited).toMatchObject({ status: 200, body: { limits: { rate_limit_per_minute: 10, rate_limit_per_day: null, daily_spend_cap: 0 } } });
      expect((await apps(w, made.key!)).status).toBe(200);
      expectRefused(await run(w, made.key!), 'usage_exceeded', {}, 'a run after the cap was edited to 0');
      // The app's key page edits them too.
      const client = await signedIn(w.h, w.people.owner);
      const page = await client.get(`/settings/api-keys/${made.id}`);
      const editForm = /<form method="post" action="\/settings\/api-keys\/key_[A-Za-z0-9]+">((?:(?!<\/form>).)*)<\/form>/s.exec(page.body)?.[1] ?? '';
      const offered = ['daily_spend_cap', 'rate_limit_per_minute'].filter((field) => editForm.includes(`name="${field}"`));
      expect({ keyPageEditFormOffers: offered }).toEqual({ keyPageEditFormOffers: ['daily_spend_cap', 'rate_limit_per_minute'] });
    }),
    TIMEOUT,
  );

  doc.statement(
    'new runs are rejected with 402 until the next UTC day',
    onBoth(async (w) => {
      const made = await apiCreate(w, (await keyOf(w, 'owner')).secret, { name: 'capped', limits: { daily_spend_cap: 2 * RUN_COST } });
      expect([(await run(w, made.key!)).status, (await run(w, made.key!)).status]).toEqual([201, 201]);
      const refused = await run(w, made.key!);
      expectRefused(refused, 'usage_exceeded', {}, 'the run past the cap');
      expect(refused.headers.get('retry-after')).toBe(String(Math.ceil(untilMidnight(w) / 1000)));
      // Requests that start no run are not refused by the cap.
      expect((await apps(w, made.key!)).status).toBe(200);
      w.h.clock.advance(untilMidnight(w) - 1_000);
      expectRefused(await run(w, made.key!), 'usage_exceeded', {}, 'a second before 00:00 UTC');
      w.h.clock.advance(1_000);
      expect((await run(w, made.key!)).status).toBe(201);
    }),
    TIMEOUT,
  );

  doc.statement(
    'Caps requests per minute for the key',
    onBoth(async (w) => {
      const manager = (await keyOf(w, 'owner')).secret;
      const capped = await apiCreate(w, manager, { name: 'three a minute', limits: { rate_limit_per_minute: 3 } });
      const other = await apiCreate(w, manager, { name: 'another key of the same member' });
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await apps(w, capped.key!)).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      expect((await run(w, capped.key!)).status).toBe(429);
      // The key's cap, not its member's or its workspace's.
      expect((await apps(w, other.key!)).status).toBe(200);
      w.h.clock.advance(untilNextMinute(w));
      expect((await apps(w, capped.key!)).status).toBe(200);
    }),
    TIMEOUT,
  );

  doc.statement(
    'default applies if unset',
    onBoth(async (w) => {
      const perMinute = PROFILE.limits.ratePerMinute;
      expect(typeof perMinute).toBe('number');
      const made = await apiCreate(w, (await keyOf(w, 'owner')).secret, { name: 'no rate limit set' });
      expect(made.limits.rate_limit_per_minute).toBeNull();
      w.h.clock.advance(untilNextMinute(w));
      const first = await apps(w, made.key!);
      expect({ status: first.status, limit: first.headers.get('x-ratelimit-limit') }).toEqual({ status: 200, limit: String(perMinute) });
      const statuses = new Map<number, number>();
      for (let i = 1; i <= perMinute!; i++) {
        const status = (await apps(w, made.key!)).status;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
      // The first request and perMinute − 1 more are let through; the last one is the excess.
      expect(Object.fromEntries(statuses)).toEqual({ 200: perMinute! - 1, 429: 1 });
    }),
    TIMEOUT,
  );

  doc.statement(
    'Excess requests get 429',
    onBoth(async (w) => {
      const made = await apiCreate(w, (await keyOf(w, 'owner')).secret, { name: 'one a minute', limits: { rate_limit_per_minute: 1 } });
      expect((await apps(w, made.key!)).status).toBe(200);
      for (const request of [() => apps(w, made.key!), () => run(w, made.key!), () => apps(w, made.key!)]) {
        const wait = Math.ceil(untilNextMinute(w) / 1000);
        const res = await request();
        expectRefused(res, 'rate_limited', { retryAfter: wait }, 'an excess request');
        expect(res.headers.get('retry-after')).toBe(String(wait));
      }
    }),
    TIMEOUT,
  );

  doc.statement(
    'Revoke … Disables the key immediately',
    onBoth(async (w) => {
      // In the app: the key's page, then its delete confirmation.
      const inApp = await keyOf(w, 'editor', { name: 'revoked in the app' });
      expect((await run(w, inApp.secret)).status).toBe(201);
      const client = await signedIn(w.h, w.people.editor);
      await client.get(`/settings/api-keys/${inApp.record.id}/delete`);
      expect((await client.post(`/settings/api-keys/${inApp.record.id}/delete`)).url.pathname).toBe('/settings/api-keys');
      // No time passes on the clock.
      expectRefused(await run(w, inApp.secret), 'revoked', {}, 'a run after revoking in the app');
      expectRefused(await apps(w, inApp.secret), 'revoked', {}, 'GET /apps after revoking in the app');
      // Through the API.
      const manager = (await keyOf(w, 'owner')).secret;
      const byApi = await apiCreate(w, manager, { name: 'revoked through the API' });
      expect((await apps(w, byApi.key!)).status).toBe(200);
      expect((await w.h.request('DELETE', `/api/v1/api-keys/${byApi.id}`, { key: manager })).status).toBe(204);
      expectRefused(await apps(w, byApi.key!), 'revoked', {}, 'GET /apps after revoking through the API');
      expectRefused(await w.h.request('GET', '/api/v1/me', { key: byApi.key! }), 'revoked', {}, 'GET /api/v1/me after revoking');
    }),
    TIMEOUT,
  );

  doc.statement(
    'The Last used column',
    onBoth(async (w) => {
      const manager = (await keyOf(w, 'owner')).secret;
      const made = await apiCreate(w, manager, { name: uniqueName('watched') });
      const client = await signedIn(w.h, w.people.owner);
      const lastUsedCell = async () => {
        const list = await client.get('/settings/api-keys');
        const row = [...list.body.matchAll(/<tr>((?:(?!<\/tr>).)*)<\/tr>/gs)].map((m) => m[1]!).find((r) => r.includes(`href="/settings/api-keys/${made.id}"`)) ?? '';
        return { header: list.body.includes('<th scope="col">Last used</th>'), cell: /<td data-label="Last used">(.*?)<\/td>/s.exec(row)?.[1] ?? null };
      };
      expect(await lastUsedCell()).toEqual({ header: true, cell: expect.stringContaining('Never') });
      w.h.clock.advance(90_000);
      const usedAt = w.h.clock.now();
      expect((await apps(w, made.key!)).status).toBe(200);
      // lastUsedAt is written after the answer, without holding it up: wait (boundedly) for the write.
      for (const deadline = Date.now() + 5_000; (await w.h.tessera.stores.apiKeys.findById(made.id))!.lastUsedAt === null && Date.now() < deadline; ) {
        await new Promise((done) => setTimeout(done, 25));
      }
      const view = (await w.h.request('GET', `/api/v1/api-keys/${made.id}`, { key: manager })).body as KeyView;
      expect({ lastUsedAt: view.lastUsedAt, lastUsedFrom: view.lastUsedFrom }).toEqual({ lastUsedAt: usedAt.toISOString(), lastUsedFrom: 'via Product API' });
      expect(await lastUsedCell()).toEqual({ header: true, cell: expect.stringContaining(`<time datetime="${usedAt.toISOString()}">`) });
    }),
    TIMEOUT,
  );

  doc.statement(
    'when it reaches zero, runs stop regardless of any cap',
    onBoth(async (w) => {
      const studio = await newWorkspace(w);
      const owner = (await studio.key()).secret;
      const topUp = await w.h.request('POST', '/api/v1/balance/credits', { key: owner, body: { credits: 2 * RUN_COST } });
      expect(topUp).toMatchObject({ status: 200, body: { org_id: studio.orgId, available: 2 * RUN_COST } });
      const capped = (await studio.key({ name: 'capped far above', limits: { dailySpendCap: 1_000 } })).secret;
      const uncapped = (await studio.key({ name: 'no cap' })).secret;
      expect([(await run(w, capped)).status, (await run(w, uncapped)).status]).toEqual([201, 201]);
      expect(await balanceOf(w, owner)).toMatchObject({ available: 0 });
      expectRefused(await run(w, capped), 'balance_exhausted', {}, 'a run of the capped key');
      expectRefused(await run(w, uncapped), 'balance_exhausted', {}, 'a run of the uncapped key');
      expect(await balanceOf(w, owner)).toMatchObject({ available: 0, spent: 2 * RUN_COST });
    }),
    TIMEOUT,
  );

  doc.outOfScope(
    'Copy it and store it in a secrets manager or server environment variable',
    'advice to the product’s users about where to keep the key; nothing to serve',
  );
  doc.outOfScope(
    'Treat a secret key like a password. Keep it on your server — never commit it to source control or expose it in a browser or other client‑side code.',
    'advice to the product’s users; nothing to serve',
  );
  doc.outOfScope('https://apis.tryflowy.ai/genstudio-svc-v2/api/v1', 'the product API’s own host and base path, not the identity service’s');
  doc.outOfScope('const { data } = await res.json();', 'the product API’s own response body; only the Authorization header is the identity service’s');
  doc.outOfScope('Because a leaked key spends your workspace credits', 'the reason for the safeguards; that a key’s runs spend its workspace’s credits is checked under “billed to that workspace”');
  doc.outOfScope('Bounds the damage from a leak.', 'the purpose of the daily spend cap; what the cap does is checked under “rejected with 402 until the next UTC day”');

  doc.ends();
});
