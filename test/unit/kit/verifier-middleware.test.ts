/**
 * The kit with a verifier, over real HTTP in front of a real Tessera (in this process, on the
 * memory stores, with a frozen clock): every status a product answers — 200 with the rate-limit
 * headers, 401 for unknown, expired, revoked and disabled keys (Tessera's own profile), 403 for a
 * disabled organization and missing scopes, 429 with Retry-After, 402 for the spend cap (Retry-After until 00:00 UTC) and for the
 * balance — for the Koa and the node:http adapters alike; a cost per route and per request; a
 * cost that is not a whole number of credits is a 500 that counts nothing; and 503 when Tessera
 * cannot answer. The handler runs only for requests let through.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import Router from '@koa/router';
import Koa from 'koa';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createIntrospector,
  createVerifier,
  principalOf,
  requireBearer,
  requireBearerNode,
  verificationFrom,
  withBearer,
  type BearerRequest,
  type Verifier,
} from '../../../kit/index.ts';
import { operatorActor } from '../../../src/services/accounts/operator-actor.ts';
import { startApi, UNAUTHORIZED_BODY, type ApiHarness, type Member } from '../../support/api-harness.ts';
import { recordSecret } from '../../support/log-capture.ts';
import { uniqueName } from '../../support/unique.ts';
import { closedPort } from './fake-tessera.ts';

interface Reply {
  status: number;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
  headers: Headers;
}

let h: ApiHarness;
let verifier: Verifier;
let rs: { id: string; secret: string };
/** Handlers that ran: a refused request runs none. */
let handled: string[] = [];

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function call(base: string, method: string, path: string, bearer?: string): Promise<Reply> {
  const res = await fetch(`${base}${path}`, { method, headers: bearer === undefined ? {} : { authorization: `Bearer ${bearer}` } });
  const text = await res.text();
  return { status: res.status, body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : { text }, headers: res.headers };
}

const credits = (value: string | string[] | undefined): number => (value === undefined ? 1 : Number(value));

/** GET /leads (leads:read, free), POST /runs (leads:write, ?credits=n, default 1), POST /reports (3 credits). */
function koaApp(v: Verifier): Koa {
  const app = new Koa();
  app.silent = true;
  const router = new Router();
  router.get('/leads', requireBearer(v, { scopes: ['leads:read'] }), (ctx) => {
    handled.push('GET /leads');
    ctx.body = principalOf(ctx);
  });
  router.post('/runs', requireBearer(v, { scopes: ['leads:write'], cost: (ctx) => credits(ctx.query.credits) }), (ctx) => {
    handled.push('POST /runs');
    ctx.status = 201;
    ctx.body = { ok: true };
  });
  router.post('/reports', requireBearer(v, { cost: 3 }), (ctx) => {
    handled.push('POST /reports');
    ctx.status = 201;
    ctx.body = { ok: true };
  });
  app.use(router.routes());
  return app;
}

function nodeServer(v: Verifier): Server {
  const leads = withBearer(v, (req, res) => {
    handled.push('GET /leads');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(req.principal));
  }, { scopes: ['leads:read'] });
  const runs = requireBearerNode(v, { scopes: ['leads:write'], cost: (req) => credits(new URL(req.url!, 'http://x').searchParams.get('credits') ?? undefined) });
  const reports = requireBearerNode(v, { cost: 3 });
  return createServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname;
    const created = (route: string) => (error?: unknown) => {
      if (error) {
        res.statusCode = 500;
        res.end('{"error":{"code":"INTERNAL","message":"Internal error"}}');
        return;
      }
      handled.push(route);
      res.statusCode = (req as BearerRequest).principal ? 201 : 500;
      res.end('{"ok":true}');
    };
    if (req.method === 'GET' && path === '/leads') void leads(req, res);
    else if (req.method === 'POST' && path === '/runs') runs(req, res, created('POST /runs'));
    else if (req.method === 'POST' && path === '/reports') reports(req, res, created('POST /reports'));
    else {
      res.statusCode = 404;
      res.end();
    }
  });
}

/** An organization of its own with an owner, so that windows and balances start at zero. */
async function freshOrg(plan?: string): Promise<{ orgId: string; member: Member }> {
  const org = await h.tessera.services.accounts.createOrganization({ name: uniqueName('org'), ...(plan ? { plan } : {}) });
  const user = await h.tessera.services.accounts.createUser({ email: `${uniqueName('u')}@example.com` });
  await h.tessera.services.accounts.setMembership(user.id, org.id, 'owner');
  return { orgId: org.id, member: { userId: user.id, role: 'owner' } };
}

async function credit(orgId: string, member: Member, amount: number): Promise<void> {
  await h.tessera.services.balances.credit(await operatorActor(h.tessera.stores, h.tessera.services.catalog, member.userId, orgId), amount);
}

beforeAll(async () => {
  const plans = join(mkdtempSync(join(tmpdir(), 'plans-')), 'plans.json');
  writeFileSync(plans, JSON.stringify({ free: {}, tight: { rate_limit_per_minute: 2, rate_limit_per_day: 100 } }));
  h = await startApi('memory', { TESSERA_PLANS_FILE: plans, TESSERA_CREDIT_BALANCES: 'true' });
  const issued = await h.tessera.services.clients.create({ name: 'Leads API', type: 'resource_server', redirectUris: [], scopes: [] });
  rs = { id: issued.client.id, secret: recordSecret(issued.secret) };
  verifier = createVerifier({ url: h.url, clientId: rs.id, clientSecret: rs.secret, negativeTtlMs: 0 });
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => {
  handled = [];
});

for (const [adapter, start] of [
  ['Koa: requireBearer', (v: Verifier) => createServer(koaApp(v).callback())],
  ['node:http: withBearer and requireBearerNode', (v: Verifier) => nodeServer(v)],
] as const) {
  describe(`the kit with a verifier — ${adapter}`, () => {
    let base: string;
    let server: Server;
    beforeAll(async () => {
      server = start(verifier);
      base = await listen(server);
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });

    it('lets a usable bearer through with its principal and the rate-limit headers of its most constrained window', async () => {
      const { orgId, member } = await freshOrg('tight');
      const key = await h.keyFor(member, { scopes: ['leads:read'] }, orgId);
      const reply = await call(base, 'GET', '/leads', key.secret);
      expect(reply.status).toBe(200);
      expect(reply.body).toMatchObject({ kind: 'api_key', org_id: orgId, key_id: key.record.id, scopes: ['leads:read'] });
      const minuteEnd = (Math.floor(h.clock.now().getTime() / 60_000) + 1) * 60;
      expect({
        limit: reply.headers.get('x-ratelimit-limit'),
        remaining: reply.headers.get('x-ratelimit-remaining'),
        reset: reply.headers.get('x-ratelimit-reset'),
        policy: reply.headers.get('ratelimit-policy'),
      }).toEqual({ limit: '2', remaining: '1', reset: String(minuteEnd), policy: '"minute";q=2;w=60, "day";q=100;w=86400' });
      expect(reply.headers.get('ratelimit')).toMatch(/^"minute";r=1;t=\d+$/);
      expect(handled).toEqual(['GET /leads']);
    });

    it('answers 429 RATE_LIMITED with Retry-After and the headers once a window is full', async () => {
      const { orgId, member } = await freshOrg('tight');
      const key = await h.keyFor(member, { scopes: ['leads:read'] }, orgId);
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await call(base, 'GET', '/leads', key.secret)).status);
      const refused = await call(base, 'GET', '/leads', key.secret);
      expect([...statuses, refused.status]).toEqual([200, 200, 429, 429]);
      const wait = Number(refused.headers.get('retry-after'));
      const now = h.clock.now().getTime();
      expect(wait).toBe(Math.ceil(((Math.floor(now / 60_000) + 1) * 60_000 - now) / 1000));
      expect(refused.body).toEqual({ error: { code: 'RATE_LIMITED', message: `Rate limit exceeded. Please retry after ${wait} seconds.` } });
      expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
      expect(handled).toEqual(['GET /leads', 'GET /leads']);
    });

    it('answers 401 for a missing, unknown, expired or revoked bearer — Tessera’s exact body', async () => {
      const { orgId, member } = await freshOrg();
      const expiring = await h.keyFor(member, { expiresAt: new Date(h.clock.now().getTime() + 1_000) }, orgId);
      const revoked = await h.keyFor(member, {}, orgId);
      const actor = await operatorActor(h.tessera.stores, h.tessera.services.catalog, member.userId, orgId);
      await h.tessera.services.apiKeys.revoke(actor, revoked.record.id);
      h.clock.advance(2_000);
      for (const bearer of [undefined, 'not-a-key', recordSecret(`tsr_live_${'Q'.repeat(38)}`), expiring.secret, revoked.secret]) {
        const reply = await call(base, 'GET', '/leads', bearer);
        expect({ status: reply.status, body: JSON.stringify(reply.body), challenge: reply.headers.get('www-authenticate') }).toEqual({ status: 401, body: UNAUTHORIZED_BODY, challenge: 'Bearer' });
      }
      expect(handled).toEqual([]);
    });

    it('answers as Tessera’s profile says: 401 for a disabled key, 403 for a disabled organization and a missing scope', async () => {
      const { orgId, member } = await freshOrg();
      const actor = await operatorActor(h.tessera.stores, h.tessera.services.catalog, member.userId, orgId);
      const disabled = await h.keyFor(member, {}, orgId);
      await h.tessera.services.apiKeys.update(actor, disabled.record.id, { active: false });
      const readOnly = await h.keyFor(member, { scopes: ['leads:read'] }, orgId);
      const refusedKey = await call(base, 'GET', '/leads', disabled.secret);
      expect({ status: refusedKey.status, body: JSON.stringify(refusedKey.body), challenge: refusedKey.headers.get('www-authenticate') }).toEqual({ status: 401, body: UNAUTHORIZED_BODY, challenge: 'Bearer' });
      expect(await call(base, 'POST', '/runs', readOnly.secret)).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN', message: 'This credential lacks the leads:write scope' } } });
      const other = await freshOrg();
      const ofDisabledOrg = await h.keyFor(other.member, {}, other.orgId);
      await h.tessera.services.accounts.updateOrganization(other.orgId, { disabled: true });
      expect(await call(base, 'GET', '/leads', ofDisabledOrg.secret)).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN', message: 'This organization is disabled' } } });
      expect(handled).toEqual([]);
    });

    it('spends a route’s cost and a request’s: 402 USAGE_EXCEEDED at the daily cap until 00:00 UTC, never past it', async () => {
      const { orgId, member } = await freshOrg();
      await credit(orgId, member, 1_000);
      const key = await h.keyFor(member, { limits: { dailySpendCap: 10 } }, orgId);
      expect((await call(base, 'POST', '/reports', key.secret)).status).toBe(201); // 3
      expect((await call(base, 'POST', '/runs?credits=5', key.secret)).status).toBe(201); // 8
      const over = await call(base, 'POST', '/reports', key.secret);
      const now = h.clock.now().getTime();
      const midnight = (Math.floor(now / 86_400_000) + 1) * 86_400_000;
      expect({ status: over.status, body: over.body, retryAfter: Number(over.headers.get('retry-after')) }).toEqual({
        status: 402,
        body: { error: { code: 'USAGE_EXCEEDED', message: 'This credential’s daily spend cap is reached. It resets at 00:00 UTC.' } },
        retryAfter: Math.ceil((midnight - now) / 1000),
      });
      expect((await call(base, 'POST', '/runs?credits=2', key.secret)).status).toBe(201); // 10
      expect((await call(base, 'GET', '/leads', key.secret)).status).toBe(200); // free
      expect((await call(base, 'POST', '/runs', key.secret)).status).toBe(402);
      expect(handled).toEqual(['POST /reports', 'POST /runs', 'POST /runs', 'GET /leads']);
    });

    it('answers 402 once the organization’s credit balance is spent, with no time to wait for', async () => {
      const { orgId, member } = await freshOrg();
      await credit(orgId, member, 4);
      const key = await h.keyFor(member, {}, orgId);
      expect((await call(base, 'POST', '/reports', key.secret)).status).toBe(201);
      const spent = await call(base, 'POST', '/reports', key.secret);
      expect({ status: spent.status, code: spent.body.error?.code, retryAfter: spent.headers.get('retry-after') }).toEqual({ status: 402, code: 'USAGE_EXCEEDED', retryAfter: null });
      expect((await call(base, 'POST', '/runs', key.secret)).status).toBe(201); // the last credit
    });

    it('answers 500 for a cost that is not a whole number of credits, and counts nothing', async () => {
      const { orgId, member } = await freshOrg();
      await credit(orgId, member, 10);
      const key = await h.keyFor(member, { limits: { rateLimitPerMinute: 1 } }, orgId);
      for (const bad of ['-1', '1.5', 'abc', '1e12']) expect((await call(base, 'POST', `/runs?credits=${bad}`, key.secret)).status).toBe(500);
      expect((await call(base, 'POST', '/runs?credits=10', key.secret)).status).toBe(201);
      expect(handled).toEqual(['POST /runs']);
    });
  });
}

describe('the verifier', () => {
  it('keeps answers about a bearer (NOT_FOUND…) for negativeTtlMs, never one that counts', async () => {
    let now = 1_000_000;
    const kept = createVerifier({ url: h.url, clientId: rs.id, clientSecret: rs.secret, negativeTtlMs: 1_000, now: () => now });
    const unknown = recordSecret(`tsr_live_${'Z'.repeat(38)}`);
    expect((await kept.verify(unknown)).code).toBe('NOT_FOUND');
    expect((await kept.verify(unknown)).code).toBe('NOT_FOUND');
    expect(kept.status()).toMatchObject({ requests: 1, hits: 1 });
    now += 1_001;
    await kept.verify(unknown);
    expect(kept.status()).toMatchObject({ requests: 2, hits: 1 });
    const { orgId, member } = await freshOrg();
    const key = await h.keyFor(member, { limits: { rateLimitPerMinute: 2 } }, orgId);
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await kept.verify(key.secret)).code);
    expect(codes).toEqual(['VALID', 'VALID', 'RATE_LIMITED']);
    expect(kept.status()).toMatchObject({ requests: 5, hits: 1 });
  });

  it('refuses a cost with an introspector, which cannot count it', () => {
    const introspector = createIntrospector({ url: h.url, clientId: rs.id, clientSecret: rs.secret });
    expect(() => requireBearer(introspector, { cost: 1 })).toThrow(/a cost needs a verifier/);
    expect(() => requireBearerNode(introspector, { cost: () => 1 })).toThrow(/a cost needs a verifier/);
    expect(() => requireBearer(introspector, { scopes: ['leads:read'] })).not.toThrow();
  });

  it('reads only answers of the contract', () => {
    expect(() => verificationFrom({ valid: true, code: 'VALID' })).toThrow(/no principal/);
    expect(() => verificationFrom({ valid: true, code: 'RATE_LIMITED' })).toThrow(/disagree/);
    expect(() => verificationFrom({ valid: false, code: 'MAYBE' })).toThrow(/no known code/);
    expect(verificationFrom({ valid: false, code: 'REVOKED' })).toMatchObject({ code: 'REVOKED', principal: null, ratelimit: null });
  });

  it('answers 503 with Retry-After when Tessera cannot be reached, and never runs the handler', async () => {
    const down = createVerifier({ url: `http://127.0.0.1:${await closedPort()}`, clientId: rs.id, clientSecret: rs.secret, timeoutMs: 500 });
    const server = createServer(koaApp(down).callback());
    const base = await listen(server);
    try {
      const reply = await call(base, 'GET', '/leads', 'anything');
      expect({ status: reply.status, code: reply.body.error?.code, retryAfter: reply.headers.get('retry-after') }).toEqual({ status: 503, code: 'UNAVAILABLE', retryAfter: '1' });
      expect(handled).toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
