/**
 * FlowEstate's authentication document (../shared/seeds/003_ba5b1820209ddac6.txt), statement by
 * statement, against Tessera run with FlowEstate's profile (config/profiles/flowestate.json).
 * Each statement is one test that checks it on both store kinds: the embedded memory stores and
 * MongoDB (or FerretDB) + Redis, started side by side before the first test. Statements about
 * FlowEstate's own API (its leads endpoints) are checked through the resource-server kit on a
 * small product API; console steps (Settings → API Keys, Settings → Connected Apps) over HTTP
 * against the console's pages; OAuth tokens either recorded as the consent page records them
 * (h.connectApp) or, where the token itself is the point, issued by a real authorization-code
 * flow with PKCE.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, jest } from '@jest/globals';
import type Router from '@koa/router';
import type Koa from 'koa';
import mongoose from 'mongoose';
import { principalOf, type Principal } from '../../../kit/index.ts';
import type { Tessera } from '../../../src/app.ts';
import { startApi, type ApiHarness, type ApiResponse, type KeyView, type Member, type StoreMode } from '../../support/api-harness.ts';
import { askedToSignIn, call, conformance, createInConsole, expectShownOnce, formFromButton, person, productApi, signedIn, signInOn, type Person, type ProductApi } from '../../support/conformance.ts';
import { ConsoleClient } from '../../support/console-client.ts';
import { FrozenClock } from '../../support/frozen-clock.ts';
import { recordSecret } from '../../support/log-capture.ts';
import { apiCall, connectAndExchange, startOAuthApp, tokenRequest, type OAuthApp } from '../../support/oauth-browser.ts';

jest.setTimeout(60_000);

const MODES: StoreMode[] = ['memory', 'external'];
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** The credits one call of the product's enrichment endpoint costs. */
const ENRICH_COST = 10;
/** The plans of this deployment: organizations start on `free`; `pro` has per-credential limits. */
const PRO = { rate_limit_per_minute: 3, daily_spend_cap: 5 };
const plansDir = mkdtempSync(join(tmpdir(), 'flowestate-plans-'));
const plansFile = join(plansDir, 'plans.json');
writeFileSync(plansFile, JSON.stringify({ free: {}, pro: PRO }));

const ENV = { TESSERA_PROFILE: 'flowestate', TESSERA_AUTH_FAILURES_PER_MINUTE: '100000', TESSERA_PLANS_FILE: plansFile };

/** One store kind's Tessera, the product's API in front of it, and what the checks share. */
interface Env {
  mode: StoreMode;
  h: ApiHarness;
  /** FlowEstate's API (its leads endpoints), guarded by the kit with an unbound resource server. */
  api: ProductApi;
  /** The same API behind a resource server bound to organization A. */
  apiOfA: ProductApi;
  /** An owner key of organization A, made as an operator makes the first key of a deployment. */
  ownerKey: string;
  /** A connector (Zapier) registered by the operator. */
  connectorId: string;
  /** Console users (with passwords) of organization A. */
  people: { owner: Person; editor: Person };
  /** Organization C, on the `pro` plan, and its owner. */
  orgC: string;
  ownerC: Member;
  /** A Tessera of the same store kind whose access tokens come from a real OAuth flow, on a frozen clock. */
  oauth: OAuthApp;
  oauthClock: FrozenClock;
  oauthApi: ProductApi;
}

const envs: Env[] = [];

/** The product's leads endpoints: what any FlowEstate API route needs of a bearer, through the kit. */
function leadsRoutes(router: Router, guard: (scopes?: string[], cost?: number) => Koa.Middleware): void {
  router.get('/api/v1/leads', guard(['leads:read']), (ctx) => {
    const limit = ctx.query.limit;
    if (limit !== undefined && !/^[1-9][0-9]?$/.test(String(limit))) {
      ctx.status = 400;
      ctx.body = { error: { code: 'VALIDATION_ERROR', message: 'limit must be a whole number from 1 to 99' } };
      return;
    }
    ctx.body = seenBy(principalOf(ctx));
  });
  router.post('/api/v1/leads', guard(['leads:write']), (ctx) => {
    ctx.status = 201;
    ctx.body = seenBy(principalOf(ctx));
  });
  router.post('/api/v1/leads/enrich', guard(['leads:read'], ENRICH_COST), (ctx) => {
    ctx.body = seenBy(principalOf(ctx));
  });
}

/** What the product's handler learns of the bearer. */
function seenBy(p: Principal): Record<string, unknown> {
  return { user_id: p.sub, org_id: p.org_id, kind: p.kind, scopes: p.scopes };
}

/** The product's API behind a resource server of its own, bound to `orgId` (null: unbound), of any Tessera. */
const leadsApi = (target: { url: string; tessera: Tessera }, orgId: string | null): Promise<ProductApi> => productApi(target, leadsRoutes, { name: 'FlowEstate API', orgId });

async function startEnv(mode: StoreMode): Promise<Env> {
  const h = await startApi(mode, ENV);
  if (h.tessera.stores.kind !== mode) throw new Error(`asked for ${mode} stores, got ${h.tessera.stores.kind}`);
  if (h.tessera.config.profile.name !== 'flowestate') throw new Error(`running with the ${h.tessera.config.profile.name} profile`);
  const api = await productApi(h, leadsRoutes);
  const apiOfA = await leadsApi(h, h.orgA);
  const ownerKey = (await h.keyFor(h.members.owner, { name: 'operator' })).secret;
  const connector = await h.tessera.services.clients.create({ name: 'Zapier', type: 'connector', redirectUris: ['https://zapier.example/cb'], scopes: ['leads:read', 'leads:write', 'keys:read'] });
  recordSecret(connector.secret);
  const people = { owner: await person(h, 'owner'), editor: await person(h, 'editor') };
  const orgC = (await h.tessera.services.accounts.createOrganization({ name: 'Initech', plan: 'pro' })).id;
  const ownerC = await person(h, 'owner', orgC);
  const oauthClock = new FrozenClock(new Date());
  const oauth = await startOAuthApp(mode, { env: { TESSERA_PROFILE: 'flowestate' }, clock: oauthClock, label: `flowestate-oauth-${mode}` });
  const oauthApi = await leadsApi(oauth, null);
  return { mode, h, api, apiOfA, ownerKey, connectorId: connector.client.id, people, orgC, ownerC, oauth, oauthClock, oauthApi };
}

beforeAll(async () => {
  for (const mode of MODES) envs.push(await startEnv(mode));
}, 180_000);

afterAll(async () => {
  for (const e of envs) {
    await Promise.all([e.api.close(), e.apiOfA.close(), e.oauthApi.close()]);
    await e.h.close();
    await e.oauth.close();
  }
  rmSync(plansDir, { recursive: true, force: true });
});

/** Runs a check on every store kind in turn; a failure names the kind. */
async function onBoth(check: (e: Env) => Promise<void>): Promise<void> {
  if (envs.length !== MODES.length) throw new Error('the harnesses did not start');
  for (const e of envs) {
    try {
      await check(e);
    } catch (error) {
      if (error instanceof Error) error.message = `[${e.mode} stores] ${error.message}`;
      throw error;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Requests

type Bearer = { key: string } | { authorization: string } | Record<string, never>;

const me = (e: Env, bearer: Bearer, query = ''): Promise<ApiResponse> => e.h.request('GET', `/api/v1/me${query}`, bearer);
const leads = (api: ProductApi, bearer: Bearer, path = '/api/v1/leads', method = 'GET') => call(`${api.url}${path}`, { ...bearer, method });

/** A key made through FlowEstate's API by `by` (the operator's owner key by default): 201 with the key. */
async function issue(e: Env, body: Record<string, unknown>, by = e.ownerKey): Promise<KeyView & { key: string }> {
  const res = await e.h.request('POST', '/api/v1/api-keys', { key: by, body });
  expect(res.status).toBe(201);
  const view = res.body as KeyView & { key: string };
  recordSecret(view.key);
  return view;
}

const patchKey = (e: Env, id: string, body: Record<string, unknown>, by = e.ownerKey) => e.h.request('PATCH', `/api/v1/api-keys/${id}`, { key: by, body });
const listKeys = async (e: Env, key: string): Promise<KeyView[]> => {
  const res = await e.h.request('GET', '/api/v1/api-keys', { key });
  expect(res.status).toBe(200);
  return res.body as KeyView[];
};

/** The document's error: its status and code, in FlowEstate's error body. */
function expectRefused(res: { status: number; body: unknown }, status: number, code: string): void {
  expect({ status: res.status, body: res.body }).toEqual({ status, body: { error: { code, message: expect.any(String) } } });
}

/** A key of the document's format that no one was ever given. */
const unknownKey = (): string => recordSecret(`fe_k_${randomBytes(16).toString('hex')}`);

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

// ---------------------------------------------------------------------------------------------

const doc = conformance('FlowEstate');

doc.outOfScope('Fetch the complete documentation index at: https://developers.flowestate.app/llms.txt', 'the documentation site’s navigation, not a statement about the API');

doc.statement('Every request must carry a bearer token in the Authorization header', () =>
  onBoth(async (e) => {
    const key = (await issue(e, { scopes: ['leads:read'] })).key;
    expectRefused(await me(e, {}), 401, 'UNAUTHORIZED');
    expectRefused(await leads(e.api, {}), 401, 'UNAUTHORIZED');
    // Anywhere else than the Authorization header, the key is not a bearer.
    for (const query of [`?api_key=${key}`, `?access_token=${key}`, `?token=${key}`]) {
      expectRefused(await e.h.request('GET', `/api/v1/me${query}`), 401, 'UNAUTHORIZED');
      expectRefused(await call(`${e.api.url}/api/v1/leads${query}`), 401, 'UNAUTHORIZED');
    }
    expectRefused(await e.h.request('GET', '/api/v1/me', { headers: { 'x-api-key': key } }), 401, 'UNAUTHORIZED');
    expect((await me(e, { authorization: `Bearer ${key}` })).status).toBe(200);
    expect((await leads(e.api, { authorization: `Bearer ${key}` })).status).toBe(200);
  }),
);

doc.statement('Authorization: Bearer fe_k_<random_hex>', () =>
  onBoth(async (e) => {
    const one = (await issue(e, { scopes: ['leads:read'] })).key;
    const two = (await issue(e, { scopes: ['leads:read'] })).key;
    expect(one).toMatch(/^fe_k_[0-9a-f]+$/);
    expect(two).toMatch(/^fe_k_[0-9a-f]+$/);
    expect(two).not.toBe(one);
    expect((await me(e, { authorization: `Bearer ${one}` })).body).toMatchObject({ kind: 'api_key', org_id: e.h.orgA });
    expect((await leads(e.api, { authorization: `Bearer ${two}` })).body).toMatchObject({ kind: 'api_key', org_id: e.h.orgA });
    // The scheme is Bearer: the same key under another scheme, or bare, is no bearer.
    for (const authorization of [`Basic ${one}`, `Token ${one}`, one]) {
      expectRefused(await me(e, { authorization }), 401, 'UNAUTHORIZED');
      expectRefused(await leads(e.api, { authorization }), 401, 'UNAUTHORIZED');
    }
  }),
);

doc.statement('FlowEstate accepts two bearer types', () =>
  onBoth(async (e) => {
    const key = (await issue(e, { scopes: ['leads:read'] })).key;
    const token = (await e.h.connectApp(e.h.members.owner, e.connectorId, { scopes: ['leads:read'] })).token;
    for (const [bearer, kind] of [
      [key, 'api_key'],
      [token, 'oauth'],
    ] as const) {
      const who = await me(e, { key: bearer });
      expect({ status: who.status, kind: (who.body as { kind?: string }).kind }).toEqual({ status: 200, kind });
      const seen = await leads(e.api, { key: bearer });
      expect({ status: seen.status, body: seen.body }).toEqual({ status: 200, body: { user_id: e.h.members.owner.userId, org_id: e.h.orgA, kind, scopes: ['leads:read'] } });
    }
  }),
);

doc.outOfScope(
  'When to use: Server-to-server integrations, scripts, Make/Zapier “API Key” auth / End-user integrations connected through the FlowEstate Zapier / Make app',
  'advice on which bearer to choose; both bearers are checked above',
);

doc.statement('API key: fe_k_ + 32 hex chars', () =>
  onBoth(async (e) => {
    const made = await issue(e, { name: 'format' });
    expect(made.key).toMatch(/^fe_k_[0-9a-f]{32}$/);
    expect((await me(e, { key: made.key })).status).toBe(200);
  }),
);

doc.statement('OAuth access token: Opaque token, no fe_k_ prefix', () =>
  onBoth(async (e) => {
    const { fixture, url } = e.oauth;
    const tokens = await connectAndExchange(url, fixture, { orgId: fixture.org1, scope: 'leads:read' });
    const token = recordSecret(tokens.access_token);
    expect(tokens.token_type).toBe('Bearer');
    expect(token.startsWith('fe_k_')).toBe(false);
    // Opaque: no structure a client could read (not a JWT's three dot-separated parts).
    expect(token).not.toContain('.');
    const who = await apiCall(url, 'GET', '/api/v1/me', token);
    expect({ status: who.status, body: who.body }).toMatchObject({ status: 200, body: { id: fixture.user.id, org_id: fixture.org1, kind: 'oauth', scopes: ['leads:read'] } });
    const seen = await leads(e.oauthApi, { key: token });
    expect({ status: seen.status, body: seen.body }).toEqual({ status: 200, body: { user_id: fixture.user.id, org_id: fixture.org1, kind: 'oauth', scopes: ['leads:read'] } });
  }),
);

doc.statement('an OAuth access token issued by FlowEstate’s identity provider', () =>
  onBoth(async (e) => {
    const { fixture, url } = e.oauth;
    const metadata = await call(`${url}/.well-known/oauth-authorization-server`);
    expect(metadata.status).toBe(200);
    const { issuer, token_endpoint: tokenEndpoint } = metadata.body as { issuer: string; token_endpoint: string };
    expect(issuer).toBe(url);
    expect(tokenEndpoint).toBe(`${url}/oauth/token`);
    const tokens = await connectAndExchange(url, fixture, { orgId: fixture.org1, scope: 'leads:read' });
    // The resource server asks the identity provider, which knows the token as its own.
    const basic = recordSecret(`Basic ${Buffer.from(`${fixture.resourceServer.id}:${fixture.resourceServer.secret}`).toString('base64')}`);
    const res = await fetch(`${url}/oauth/introspect`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: recordSecret(tokens.access_token) }).toString(),
    });
    expect((await res.json()) as unknown).toMatchObject({ active: true, kind: 'oauth', iss: issuer, client_id: fixture.connector.id, sub: fixture.user.id, org_id: fixture.org1 });
  }),
);

doc.statement('API keys are created in the FlowEstate dashboard under Settings → API Keys', () =>
  onBoth(async (e) => {
    const client = new ConsoleClient(e.h.url);
    await signInOn(client, await askedToSignIn(client, 'FlowEstate'), e.people.editor);
    await formFromButton(client, 'Create API key');
    const key = (await createInConsole(client, { name: 'make-lead-ingest', scopes: ['leads:read'] })).secret;
    expect(key).toMatch(/^fe_k_[0-9a-f]{32}$/);
    const who = await me(e, { key });
    expect({ status: who.status, body: who.body }).toMatchObject({ status: 200, body: { id: e.people.editor.userId, org_id: e.h.orgA, scopes: ['leads:read'], kind: 'api_key' } });
    expect((await leads(e.api, { key })).status).toBe(200);
  }),
);

doc.statement('The raw key is shown once at creation', () =>
  onBoth(async (e) => {
    const client = await signedIn(e.h, e.people.editor);
    const shown = await createInConsole(client, { name: 'shown once', scopes: ['leads:read'] });
    const key = shown.secret;
    await expectShownOnce(client, shown);
    // Through the API: in the creation's answer, and in no answer after it.
    const made = await issue(e, { name: 'api shown once' });
    expect(made.key).toMatch(/^fe_k_/);
    const one = await e.h.request('GET', `/api/v1/api-keys/${made.id}`, { key: e.ownerKey });
    const all = await e.h.request('GET', '/api/v1/api-keys', { key: e.ownerKey });
    expect({ one: one.status, all: all.status }).toEqual({ one: 200, all: 200 });
    expect(one.text).not.toContain(made.key);
    expect(all.text).not.toContain(made.key);
    expect(all.text).not.toContain(key);
  }),
);

doc.statement('FlowEstate stores only a SHA-256 hash', () =>
  onBoth(async (e) => {
    const made = await issue(e, { name: 'hashed' });
    const record = await e.h.tessera.stores.apiKeys.findById(made.id);
    expect(record).not.toBeNull();
    expect(record!.hash).toBe(sha256(made.key));
    expect(JSON.stringify(record)).not.toContain(made.key);
    expect((await e.h.tessera.stores.apiKeys.findByHash(sha256(made.key)))?.id).toBe(made.id);
    if (e.mode === 'external') {
      // The document as MongoDB holds it.
      const connection = await mongoose.createConnection(e.h.tessera.config.mongodbUri!).asPromise();
      try {
        const stored = await connection.collection('api_keys').findOne({ keyId: made.id });
        expect(stored).not.toBeNull();
        expect(stored!._id).toBe(sha256(made.key));
        expect(JSON.stringify(stored)).not.toContain(made.key);
      } finally {
        await connection.close();
      }
    }
  }),
);

doc.statement('If you lose the key, revoke it and create a new one', () =>
  onBoth(async (e) => {
    const lost = await issue(e, { name: 'lost', scopes: ['leads:read'] });
    expect((await leads(e.api, { key: lost.key })).status).toBe(200);
    // Nothing gives it back.
    const again = await e.h.request('GET', `/api/v1/api-keys/${lost.id}`, { key: e.ownerKey });
    expect(again.body).not.toHaveProperty('key');
    const revoked = await e.h.request('DELETE', `/api/v1/api-keys/${lost.id}`, { key: e.ownerKey });
    expect(revoked.status).toBe(204);
    expectRefused(await me(e, { key: lost.key }), 401, 'UNAUTHORIZED');
    expectRefused(await leads(e.api, { key: lost.key }), 401, 'UNAUTHORIZED');
    const fresh = await issue(e, { name: 'lost', scopes: ['leads:read'] });
    expect(fresh.key).not.toBe(lost.key);
    expect((await leads(e.api, { key: fresh.key })).status).toBe(200);
  }),
);

doc.statement('A set of scopes that limits what it can do', () =>
  onBoth(async (e) => {
    const reader = await issue(e, { scopes: ['leads:read'] });
    const writer = await issue(e, { scopes: ['leads:read', 'leads:write'] });
    expect(reader.scopes).toEqual(['leads:read']);
    expect((await leads(e.api, { key: reader.key })).status).toBe(200);
    expectRefused(await leads(e.api, { key: reader.key }, '/api/v1/leads', 'POST'), 403, 'FORBIDDEN');
    expect((await leads(e.api, { key: writer.key }, '/api/v1/leads', 'POST')).status).toBe(201);
    // Its scopes bound it at FlowEstate's own endpoints too: no keys:read, no key listing.
    expectRefused(await e.h.request('GET', '/api/v1/api-keys', { key: reader.key }), 403, 'FORBIDDEN');
  }),
);

doc.statement('An organization binding — every read and write is automatically restricted to that organization', () =>
  onBoth(async (e) => {
    const a = await issue(e, { name: 'acme', scopes: ['keys:read', 'keys:write', 'leads:read'] });
    const b = (await e.h.keyFor(e.h.members.ownerB, { name: 'globex' })).secret;
    const bId = (await e.h.request('GET', '/api/v1/me', { key: b })).body as { key_id: string; org_id: string };
    expect(bId.org_id).toBe(e.h.orgB);
    // Reads: each organization's keys list only its own.
    expect((await listKeys(e, a.key)).map((k) => k.id)).not.toContain(bId.key_id);
    expect((await listKeys(e, b)).map((k) => k.id)).toEqual([bId.key_id]);
    // Another organization's key is not found, to read or to write.
    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', { active: false }],
      ['DELETE', undefined],
    ] as const) {
      const res = await e.h.request(method, `/api/v1/api-keys/${a.id}`, { key: b, ...(body ? { body } : {}) });
      expect({ method, status: res.status }).toEqual({ method, status: 404 });
    }
    expect((await me(e, { key: a.key })).status).toBe(200);
    // The product's API sees the key's organization, and one bound to A sees only A's bearers.
    expect((await leads(e.api, { key: a.key })).body).toMatchObject({ org_id: e.h.orgA });
    expect((await leads(e.api, { key: b })).body).toMatchObject({ org_id: e.h.orgB });
    expect((await leads(e.apiOfA, { key: a.key })).status).toBe(200);
    expectRefused(await leads(e.apiOfA, { key: (await e.h.keyFor(e.h.members.ownerB, { scopes: ['leads:read'] })).secret }), 401, 'UNAUTHORIZED');
  }),
);

doc.statement('An optional expiration date', () =>
  onBoth(async (e) => {
    const forever = await issue(e, { name: 'no expiry', scopes: ['leads:read'] });
    const at = new Date(e.h.clock.now().getTime() + DAY).toISOString();
    const dated = await issue(e, { name: 'expires', scopes: ['leads:read'], expires_at: at });
    expect({ forever: forever.expiresAt, dated: dated.expiresAt }).toEqual({ forever: null, dated: at });
    expect((await leads(e.api, { key: dated.key })).status).toBe(200);
    e.h.clock.advance(DAY + 1_000);
    expectRefused(await me(e, { key: dated.key }), 403, 'FORBIDDEN');
    expectRefused(await leads(e.api, { key: dated.key }), 403, 'FORBIDDEN');
    // Without one, a key keeps working, years on.
    e.h.clock.advance(3 * 365 * DAY);
    expect((await me(e, { key: forever.key })).status).toBe(200);
    expect((await leads(e.api, { key: forever.key })).status).toBe(200);
  }),
);

doc.statement('An active flag — disable a key without deleting it to revoke access immediately', () =>
  onBoth(async (e) => {
    const made = await issue(e, { name: 'toggled', scopes: ['leads:read'] });
    expect((await leads(e.api, { key: made.key })).status).toBe(200);
    const off = await patchKey(e, made.id, { active: false });
    expect({ status: off.status, active: (off.body as KeyView).active }).toEqual({ status: 200, active: false });
    expectRefused(await me(e, { key: made.key }), 403, 'FORBIDDEN');
    expectRefused(await leads(e.api, { key: made.key }), 403, 'FORBIDDEN');
    // Not deleted: still listed, disabled, and it works again once enabled.
    expect((await listKeys(e, e.ownerKey)).find((k) => k.id === made.id)).toMatchObject({ name: 'toggled', active: false });
    expect((await patchKey(e, made.id, { active: true })).status).toBe(200);
    expect((await me(e, { key: made.key })).status).toBe(200);
  }),
);

doc.statement('There is no organizationId parameter to pass on any endpoint', () =>
  onBoth(async (e) => {
    const bKey = (await e.h.keyFor(e.h.members.ownerB)).secret;
    const bIds = (await listKeys(e, bKey)).map((k) => k.id);
    const aCount = (await listKeys(e, e.ownerKey)).length;
    // Given in a body, it is refused, naming it, and nothing is made in either organization.
    for (const field of ['organizationId', 'organization_id', 'org_id']) {
      const res = await e.h.request('POST', '/api/v1/api-keys', { key: e.ownerKey, body: { name: 'elsewhere', [field]: e.h.orgB } });
      expect({ status: res.status, body: res.body }).toEqual({ status: 400, body: { error: { code: 'VALIDATION_FAILED', message: expect.any(String) } } });
    }
    expect((await listKeys(e, bKey)).map((k) => k.id)).toEqual(bIds);
    expect((await listKeys(e, e.ownerKey)).length).toBe(aCount);
    // Given in a query, it changes nothing: the key's organization is the one answered for.
    const listed = await e.h.request('GET', `/api/v1/api-keys?organizationId=${e.h.orgB}`, { key: e.ownerKey });
    expect(listed.status).toBe(200);
    expect((listed.body as KeyView[]).filter((k) => bIds.includes(k.id))).toEqual([]);
    expect((await me(e, { key: e.ownerKey }, `?organizationId=${e.h.orgB}`)).body).toMatchObject({ org_id: e.h.orgA });
    const reader = (await issue(e, { scopes: ['leads:read'] })).key;
    expect((await leads(e.api, { key: reader }, `/api/v1/leads?organizationId=${e.h.orgB}`)).body).toMatchObject({ org_id: e.h.orgA });
  }),
);

doc.statement('The token is the source of truth', () =>
  onBoth(async (e) => {
    // One person in two organizations: each key answers for the organization it was made in.
    const both = await person(e.h, 'owner');
    await e.h.tessera.services.accounts.setMembership(both.userId, e.h.orgB, 'admin');
    const inA = (await e.h.keyFor(both, { scopes: ['keys:read', 'leads:read'] }, e.h.orgA)).secret;
    const inB = (await e.h.keyFor(both, { scopes: ['keys:read', 'leads:read'] }, e.h.orgB)).secret;
    expect((await me(e, { key: inA })).body).toMatchObject({ id: both.userId, org_id: e.h.orgA });
    expect((await me(e, { key: inB })).body).toMatchObject({ id: both.userId, org_id: e.h.orgB });
    expect((await leads(e.api, { key: inA })).body).toMatchObject({ user_id: both.userId, org_id: e.h.orgA });
    expect((await leads(e.api, { key: inB })).body).toMatchObject({ user_id: both.userId, org_id: e.h.orgB });
    const listedA = (await listKeys(e, inA)).map((k) => k.id);
    const listedB = (await listKeys(e, inB)).map((k) => k.id);
    expect(listedA.filter((id) => listedB.includes(id))).toEqual([]);
  }),
);

doc.outOfScope('You don’t usually see this token directly — the connector handles it for you', 'what the Zapier / Make connector does with the token; nothing for the identity service to serve');

doc.statement('OAuth tokens behave the same as API keys from the API’s perspective', () =>
  onBoth(async (e) => {
    const key = (await e.h.keyFor(e.h.members.editor, { scopes: ['leads:read'] })).secret;
    const token = (await e.h.connectApp(e.h.members.editor, e.connectorId, { scopes: ['leads:read'] })).token;
    const [byKey, byToken] = [await leads(e.api, { key }), await leads(e.api, { key: token })];
    expect({ status: byToken.status, body: { ...(byToken.body as object), kind: 'same' } }).toEqual({ status: byKey.status, body: { ...(byKey.body as object), kind: 'same' } });
    const [meKey, meToken] = [await me(e, { key }), await me(e, { key: token })];
    const common = (body: unknown) => {
      const { id, org_id, scopes } = body as Record<string, unknown>;
      return { id, org_id, scopes };
    };
    expect({ status: meToken.status, who: common(meToken.body) }).toEqual({ status: meKey.status, who: common(meKey.body) });
  }),
);

doc.statement('same scopes', () =>
  onBoth(async (e) => {
    const key = (await e.h.keyFor(e.h.members.editor, { scopes: ['leads:read'] })).secret;
    const token = (await e.h.connectApp(e.h.members.editor, e.connectorId, { scopes: ['leads:read'] })).token;
    expect((await me(e, { key: token })).body).toMatchObject({ scopes: ['leads:read'] });
    for (const bearer of [key, token]) {
      expect((await leads(e.api, { key: bearer })).status).toBe(200);
      expectRefused(await leads(e.api, { key: bearer }, '/api/v1/leads', 'POST'), 403, 'FORBIDDEN');
      expectRefused(await e.h.request('GET', '/api/v1/api-keys', { key: bearer }), 403, 'FORBIDDEN');
    }
    // The same refusal, word for word, for either bearer.
    const [k, t] = [await leads(e.api, { key }, '/api/v1/leads', 'POST'), await leads(e.api, { key: token }, '/api/v1/leads', 'POST')];
    expect(t.body).toEqual(k.body);
    const writer = (await e.h.connectApp(e.h.members.editor, e.connectorId, { scopes: ['leads:read', 'leads:write'] })).token;
    expect((await leads(e.api, { key: writer }, '/api/v1/leads', 'POST')).status).toBe(201);
  }),
);

doc.statement('same organization scoping', () =>
  onBoth(async (e) => {
    const token = (await e.h.connectApp(e.h.members.owner, e.connectorId, { scopes: ['keys:read', 'leads:read'] })).token;
    const foreign = await e.h.keyFor(e.h.members.ownerB, { name: 'globex' });
    expect((await me(e, { key: token })).body).toMatchObject({ org_id: e.h.orgA, kind: 'oauth' });
    const listed = (await listKeys(e, token)).map((k) => k.id);
    expect(listed).toContain((await e.h.request('GET', '/api/v1/me', { key: e.ownerKey }).then((r) => r.body as { key_id: string })).key_id);
    expect(listed).not.toContain(foreign.record.id);
    expect((await e.h.request('GET', `/api/v1/api-keys/${foreign.record.id}`, { key: token })).status).toBe(404);
    expect((await leads(e.api, { key: token })).body).toMatchObject({ org_id: e.h.orgA });
    expect((await leads(e.apiOfA, { key: token })).status).toBe(200);
    const tokenOfB = (await e.h.connectApp(e.h.members.ownerB, e.connectorId, { scopes: ['leads:read'] })).token;
    expectRefused(await leads(e.apiOfA, { key: tokenOfB }), 401, 'UNAUTHORIZED');
  }),
);

doc.statement('same rate limits', () =>
  onBoth(async (e) => {
    // Organization C's plan allows each credential 3 requests a minute: its keys and its connected apps alike.
    const key = (await e.h.keyFor(e.ownerC, { scopes: ['leads:read'] }, e.orgC)).secret;
    const token = (await e.h.connectApp(e.ownerC, e.connectorId, { scopes: ['leads:read'], orgId: e.orgC })).token;
    for (const bearer of [key, token]) {
      const answers = [];
      for (let i = 0; i < PRO.rate_limit_per_minute + 1; i++) answers.push(await leads(e.api, { key: bearer }));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429]);
      expect(answers.slice(0, 3).map((a) => a.headers.get('x-ratelimit-limit'))).toEqual(['3', '3', '3']);
      const refused = answers[3]!;
      expectRefused(refused, 429, 'RATE_LIMITED');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    }
  }),
);

doc.statement('They’re tied to a specific user, not the organization at large', () =>
  onBoth(async (e) => {
    const user = await person(e.h, 'editor');
    const token = await e.h.connectApp(user, e.connectorId, { scopes: ['leads:read'] });
    expect((await me(e, { key: token.token })).body).toMatchObject({ id: user.userId, org_id: e.h.orgA, grant_id: token.grantId });
    expect((await leads(e.api, { key: token.token })).body).toMatchObject({ user_id: user.userId });
    // It is that person's connected app, not the organization's.
    const theirs = await e.h.request('GET', '/api/v1/connected-apps', { key: (await e.h.keyFor(user, { scopes: ['apps:read'] })).secret });
    expect((theirs.body as Array<{ id: string; user_id: string }>).find((a) => a.id === token.grantId)).toMatchObject({ user_id: user.userId });
    const owners = await e.h.request('GET', '/api/v1/connected-apps', { key: e.ownerKey });
    expect((owners.body as Array<{ id: string }>).map((a) => a.id)).not.toContain(token.grantId);
    // It does what its user may: a viewer's token never writes, whatever it was granted.
    const viewer = await e.h.connectApp(e.h.members.viewer, e.connectorId, { scopes: ['leads:read', 'leads:write'] });
    expect((await me(e, { key: viewer.token })).body).toMatchObject({ id: e.h.members.viewer.userId, scopes: ['leads:read'] });
    expectRefused(await leads(e.api, { key: viewer.token }, '/api/v1/leads', 'POST'), 403, 'FORBIDDEN');
    // When its user is disabled, it stops; the organization's other credentials go on.
    await e.h.tessera.services.accounts.updateUser(user.userId, { disabled: true });
    for (const res of [await me(e, { key: token.token }), await leads(e.api, { key: token.token })]) {
      expect(res.status).toBeGreaterThanOrEqual(401);
      expect(['UNAUTHORIZED', 'FORBIDDEN']).toContain((res.body as { error?: { code?: string } }).error?.code);
    }
    expect((await me(e, { key: e.ownerKey })).status).toBe(200);
  }),
);

doc.statement('They expire and refresh automatically', () =>
  onBoth(async (e) => {
    const { fixture, url } = e.oauth;
    const first = await connectAndExchange(url, fixture, { orgId: fixture.org1, scope: 'leads:read offline_access' });
    expect(first.expires_in).toBe(3600);
    expect(typeof first.refresh_token).toBe('string');
    expect((await apiCall(url, 'GET', '/api/v1/me', first.access_token)).status).toBe(200);
    const refreshed = await tokenRequest(url, fixture.connector, { grant_type: 'refresh_token', refresh_token: first.refresh_token });
    expect(refreshed.status).toBe(200);
    const second = recordSecret(refreshed.body.access_token as string);
    expect(second).not.toBe(first.access_token);
    expect((await apiCall(url, 'GET', '/api/v1/me', second)).body).toMatchObject({ id: fixture.user.id, org_id: fixture.org1, kind: 'oauth' });
    expect((await leads(e.oauthApi, { key: second })).status).toBe(200);
    // An hour on, the first token has expired: 401, on which a connector refreshes.
    e.oauthClock.advance(HOUR + 60_000);
    expectRefused(await apiCall(url, 'GET', '/api/v1/me', first.access_token), 401, 'UNAUTHORIZED');
    expectRefused(await leads(e.oauthApi, { key: first.access_token }), 401, 'UNAUTHORIZED');
  }),
);

doc.statement('They can be revoked from Settings → Connected Apps', () =>
  onBoth(async (e) => {
    const token = await e.h.connectApp(e.people.editor, e.connectorId, { scopes: ['leads:read'] });
    expect((await leads(e.api, { key: token.token })).status).toBe(200);
    const client = await signedIn(e.h, e.people.editor);
    const list = await client.get('/settings/connected-apps');
    expect(list.status).toBe(200);
    expect(list.body).toContain(`/settings/connected-apps/${token.grantId}/revoke`);
    await client.get(`/settings/connected-apps/${token.grantId}/revoke`);
    const done = await client.post(`/settings/connected-apps/${token.grantId}/revoke`);
    expect(done.body).toContain('The app was disconnected.');
    expectRefused(await me(e, { key: token.token }), 401, 'UNAUTHORIZED');
    expectRefused(await leads(e.api, { key: token.token }), 401, 'UNAUTHORIZED');
  }),
);

// The authentication errors table, row by row: at FlowEstate's own /api/v1 routes and at its product API.

doc.statement('401 UNAUTHORIZED — Missing or malformed Authorization header', () =>
  onBoth(async (e) => {
    const key = (await issue(e, { scopes: ['leads:read'] })).key;
    const headers: Bearer[] = [
      {},
      { authorization: '' },
      { authorization: 'Bearer' },
      { authorization: 'Bearer ' },
      { authorization: `Bearer ${key} extra` },
      { authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` },
      { authorization: 'Bearer fe_k_not-hex-at-all' },
      { authorization: `Bearer ${key.slice(0, -1)}` },
    ];
    for (const bearer of headers) {
      expectRefused(await me(e, bearer), 401, 'UNAUTHORIZED');
      expectRefused(await leads(e.api, bearer), 401, 'UNAUTHORIZED');
    }
  }),
);

doc.statement('401 UNAUTHORIZED — unknown key', () =>
  onBoth(async (e) => {
    const key = unknownKey();
    expectRefused(await me(e, { key }), 401, 'UNAUTHORIZED');
    expectRefused(await leads(e.api, { key }), 401, 'UNAUTHORIZED');
  }),
);

doc.statement('401 UNAUTHORIZED — expired OAuth token', () =>
  onBoth(async (e) => {
    const token = (await e.h.connectApp(e.h.members.editor, e.connectorId, { scopes: ['leads:read'], ttlSeconds: 60 })).token;
    expect((await me(e, { key: token })).status).toBe(200);
    expect((await leads(e.api, { key: token })).status).toBe(200);
    e.h.clock.advance(61_000);
    expectRefused(await me(e, { key: token }), 401, 'UNAUTHORIZED');
    expectRefused(await leads(e.api, { key: token }), 401, 'UNAUTHORIZED');
  }),
);

doc.statement('403 FORBIDDEN — Key is inactive', () =>
  onBoth(async (e) => {
    const made = await issue(e, { name: 'inactive', scopes: ['leads:read'] });
    expect((await leads(e.api, { key: made.key })).status).toBe(200);
    expect((await patchKey(e, made.id, { active: false })).status).toBe(200);
    expectRefused(await me(e, { key: made.key }), 403, 'FORBIDDEN');
    expectRefused(await leads(e.api, { key: made.key }), 403, 'FORBIDDEN');
  }),
);

doc.statement('403 FORBIDDEN — Key is expired', () =>
  onBoth(async (e) => {
    const made = await issue(e, { name: 'expiring', scopes: ['leads:read'], expires_at: new Date(e.h.clock.now().getTime() + HOUR).toISOString() });
    expect((await me(e, { key: made.key })).status).toBe(200);
    expect((await leads(e.api, { key: made.key })).status).toBe(200);
    e.h.clock.advance(HOUR + 1_000);
    expectRefused(await me(e, { key: made.key }), 403, 'FORBIDDEN');
    expectRefused(await leads(e.api, { key: made.key }), 403, 'FORBIDDEN');
  }),
);

doc.statement('403 FORBIDDEN — missing a required scope', () =>
  onBoth(async (e) => {
    const key = (await issue(e, { scopes: ['leads:read'] })).key;
    // FlowEstate's own endpoints: listing keys needs keys:read.
    expectRefused(await e.h.request('GET', '/api/v1/api-keys', { key }), 403, 'FORBIDDEN');
    expectRefused(await e.h.request('POST', '/api/v1/api-keys', { key, body: { name: 'more' } }), 403, 'FORBIDDEN');
    // The product's: writing leads needs leads:write.
    expectRefused(await leads(e.api, { key }, '/api/v1/leads', 'POST'), 403, 'FORBIDDEN');
    const token = (await e.h.connectApp(e.h.members.editor, e.connectorId, { scopes: ['leads:read'] })).token;
    expectRefused(await e.h.request('GET', '/api/v1/api-keys', { key: token }), 403, 'FORBIDDEN');
    expectRefused(await leads(e.api, { key: token }, '/api/v1/leads', 'POST'), 403, 'FORBIDDEN');
  }),
);

doc.statement('403 FORBIDDEN — OAuth client disabled', () =>
  onBoth(async (e) => {
    const connector = await e.h.tessera.services.clients.create({ name: 'Make', type: 'connector', redirectUris: ['https://make.example/cb'], scopes: ['leads:read'] });
    recordSecret(connector.secret);
    const token = (await e.h.connectApp(e.h.members.editor, connector.client.id, { scopes: ['leads:read'] })).token;
    expect((await me(e, { key: token })).status).toBe(200);
    expect((await leads(e.api, { key: token })).status).toBe(200);
    await e.h.tessera.services.clients.setDisabled(connector.client.id, true);
    expectRefused(await me(e, { key: token }), 403, 'FORBIDDEN');
    expectRefused(await leads(e.api, { key: token }), 403, 'FORBIDDEN');
  }),
);

doc.statement('403 FORBIDDEN — OAuth client … unbound to an org', () =>
  onBoth(async (e) => {
    // A grant is bound at consent to one organization; the binding ends when its user leaves it.
    const leaver = await person(e.h, 'editor');
    const token = (await e.h.connectApp(leaver, e.connectorId, { scopes: ['leads:read'] })).token;
    expect((await me(e, { key: token })).status).toBe(200);
    expect((await leads(e.api, { key: token })).status).toBe(200);
    // Removed from the organization as an operator removes a member, and every instance told.
    expect(await e.h.tessera.stores.memberships.remove(leaver.userId, e.h.orgA)).toBe(true);
    await e.h.tessera.services.bearerEvents.publish({ kind: 'user', id: leaver.userId });
    expectRefused(await me(e, { key: token }), 403, 'FORBIDDEN');
    expectRefused(await leads(e.api, { key: token }), 403, 'FORBIDDEN');
  }),
);

doc.statement('hit GET /api/v1/me with the same bearer — if that returns 200, your authentication is fine and the issue is downstream (scopes, plan limits, validation)', () =>
  onBoth(async (e) => {
    // Scopes: a reader writing.
    const reader = (await issue(e, { scopes: ['leads:read'] })).key;
    expectRefused(await leads(e.api, { key: reader }, '/api/v1/leads', 'POST'), 403, 'FORBIDDEN');
    expect((await me(e, { key: reader })).status).toBe(200);
    // Plan limits: organization C's plan caps each credential's daily spend below one enrichment.
    const capped = (await e.h.keyFor(e.ownerC, { scopes: ['leads:read'] }, e.orgC)).secret;
    expectRefused(await leads(e.api, { key: capped }, '/api/v1/leads/enrich', 'POST'), 402, 'USAGE_EXCEEDED');
    expect((await me(e, { key: capped })).status).toBe(200);
    // Validation: the product refuses the request itself.
    const bad = await leads(e.api, { key: reader }, '/api/v1/leads?limit=1000');
    expect(bad.status).toBe(400);
    expect((await me(e, { key: reader })).status).toBe(200);
  }),
);

doc.statement('If /me itself fails, fix authentication first', () =>
  onBoth(async (e) => {
    const disabled = await issue(e, { name: 'off', scopes: ['leads:read'] });
    await patchKey(e, disabled.id, { active: false });
    const expiredToken = (await e.h.connectApp(e.h.members.editor, e.connectorId, { scopes: ['leads:read'], ttlSeconds: 1 })).token;
    e.h.clock.advance(2_000);
    // Whatever fails authentication at the product's API fails /me alike.
    for (const bearer of [{}, { authorization: 'Token nope' }, { key: unknownKey() }, { key: disabled.key }, { key: expiredToken }] as Bearer[]) {
      const [atMe, atApi] = [await me(e, bearer), await leads(e.api, bearer)];
      expect(atMe.status).toBeGreaterThanOrEqual(401);
      expect({ status: atMe.status, body: atMe.body }).toEqual({ status: atApi.status, body: atApi.body });
    }
  }),
);

// Best practices: what Tessera can support of them.

doc.statement('One key per integration, named after the integration (make-lead-ingest, zapier-pipeline-sync). Easier to audit and revoke.', () =>
  onBoth(async (e) => {
    const make = await issue(e, { name: 'make-lead-ingest', scopes: ['leads:read', 'leads:write'] });
    const zapier = await issue(e, { name: 'zapier-pipeline-sync', scopes: ['leads:read'] });
    const listed = await listKeys(e, e.ownerKey);
    expect(listed.filter((k) => k.id === make.id || k.id === zapier.id).map((k) => k.name).sort()).toEqual(['make-lead-ingest', 'zapier-pipeline-sync']);
    // Revoking one integration's key leaves the other working.
    expect((await e.h.request('DELETE', `/api/v1/api-keys/${make.id}`, { key: e.ownerKey })).status).toBe(204);
    expectRefused(await leads(e.api, { key: make.key }), 401, 'UNAUTHORIZED');
    expect((await leads(e.api, { key: zapier.key })).status).toBe(200);
    // The audit log names the key each change was about.
    const audit = await e.h.request('GET', '/api/v1/audit-events?action=api_key.revoked', { key: e.ownerKey });
    expect(audit.status).toBe(200);
    const targets = (audit.body as { data: Array<{ target: { id: string } }> }).data.map((ev) => ev.target.id);
    expect(targets).toContain(make.id);
    expect(targets).not.toContain(zapier.id);
  }),
);

doc.statement('Minimum scopes. Don’t grant leads:write to a key that only reads.', () =>
  onBoth(async (e) => {
    const reads = await issue(e, { name: 'reporting', scopes: ['leads:read'] });
    expect(reads.scopes).toEqual(['leads:read']);
    expect((await me(e, { key: reads.key })).body).toMatchObject({ scopes: ['leads:read'] });
    expect((await leads(e.api, { key: reads.key })).status).toBe(200);
    expectRefused(await leads(e.api, { key: reads.key }, '/api/v1/leads', 'POST'), 403, 'FORBIDDEN');
    // A key's scopes can be narrowed later, at once.
    const wide = await issue(e, { name: 'too wide', scopes: ['leads:read', 'leads:write'] });
    expect((await patchKey(e, wide.id, { scopes: ['leads:read'] })).status).toBe(200);
    expectRefused(await leads(e.api, { key: wide.key }, '/api/v1/leads', 'POST'), 403, 'FORBIDDEN');
  }),
);

doc.statement('Rotate periodically', () =>
  onBoth(async (e) => {
    const old = await issue(e, { name: 'zapier-pipeline-sync', scopes: ['leads:read'] });
    const rotated = await e.h.request('POST', `/api/v1/api-keys/${old.id}/rotate`, { key: e.ownerKey, body: {} });
    expect(rotated.status).toBe(201);
    const next = rotated.body as KeyView & { key: string };
    recordSecret(next.key);
    expect(next.key).toMatch(/^fe_k_[0-9a-f]{32}$/);
    expect({ name: next.name, scopes: next.scopes }).toEqual({ name: 'zapier-pipeline-sync', scopes: ['leads:read'] });
    expect((await leads(e.api, { key: next.key })).status).toBe(200);
    expectRefused(await me(e, { key: old.key }), 401, 'UNAUTHORIZED');
    expectRefused(await leads(e.api, { key: old.key }), 401, 'UNAUTHORIZED');
  }),
);

doc.outOfScope('Never commit keys to source control. Treat them like passwords.', 'advice to FlowEstate’s users about their own repositories; nothing for the identity service to serve');

doc.statement('Set expirations for short-lived integrations (one-off backfills, contractor work)', () =>
  onBoth(async (e) => {
    const until = new Date(e.h.clock.now().getTime() + 7 * DAY).toISOString();
    const backfill = await issue(e, { name: 'one-off backfill', scopes: ['leads:read'], expires_at: until });
    expect(backfill.expiresAt).toBe(until);
    expect((await listKeys(e, e.ownerKey)).find((k) => k.id === backfill.id)?.expiresAt).toBe(until);
    e.h.clock.advance(6 * DAY);
    expect((await leads(e.api, { key: backfill.key })).status).toBe(200);
    e.h.clock.advance(DAY + 1_000);
    expectRefused(await leads(e.api, { key: backfill.key }), 403, 'FORBIDDEN');
    // An expiry can also be set on an existing key.
    const contractor = await issue(e, { name: 'contractor', scopes: ['leads:read'] });
    const soon = new Date(e.h.clock.now().getTime() + HOUR).toISOString();
    expect(((await patchKey(e, contractor.id, { expires_at: soon })).body as KeyView).expiresAt).toBe(soon);
    e.h.clock.advance(HOUR + 1_000);
    expectRefused(await me(e, { key: contractor.key }), 403, 'FORBIDDEN');
  }),
);

doc.ends();
