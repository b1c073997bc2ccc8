/**
 * The kit answers as the deployment's product profile says, over real HTTP against a fake Tessera:
 * a profile given as an option (an object, or a profile file) or learned from Tessera's
 * /.well-known/tessera-profile — fetched once for the process, shared by concurrent first
 * requests, and asked again after a failure (503 meanwhile, in Tessera's own body). Refusals take
 * the profile's status, words and body for their failure reason and bearer kind — a verifier's
 * `reason` and `bearer_kind`, or its code from an older Tessera — and requireScopes refuses in
 * the profile requireBearer judged by.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import Router from '@koa/router';
import Koa from 'koa';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createIntrospector,
  createVerifier,
  requireBearer,
  requireBearerNode,
  requireScopes,
  requireScopesNode,
  verificationFrom,
  withBearer,
  type BearerAuthority,
  type NextFunction,
  type PublicProfile,
} from '../../../kit/index.ts';
import { recordSecret } from '../../support/log-capture.ts';
import { apiKeyFields, newToken, oauthFields, shippedProfile, startFakeTessera, type FakeTessera } from './fake-tessera.ts';

const MINDS_401 = '{"statusCode":401,"statusMessage":"Unauthorized","message":"Invalid or missing API key"}';
const TESSERA_401 = '{"error":{"code":"UNAUTHORIZED","message":"Invalid or missing API key"}}';
const TESSERA_503 = '{"error":{"code":"UNAVAILABLE","message":"The identity service is unavailable; retry shortly"}}';
const FLOWESTATE_FILE = new URL('../../../config/profiles/flowestate.json', import.meta.url).pathname;

interface Reply {
  status: number;
  text: string;
  headers: Headers;
}

let tessera: FakeTessera;
const servers: Server[] = [];

beforeAll(async () => {
  tessera = await startFakeTessera();
});
afterAll(async () => {
  await tessera.close();
});
afterEach(async () => {
  tessera.override(null);
  tessera.overrideProfile(null);
  tessera.publish(shippedProfile('tessera'));
  await Promise.all(
    servers.splice(0).map((server) => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    }),
  );
});

const credentials = (): { url: string; clientId: string; clientSecret: string } => ({ url: tessera.url, clientId: tessera.clientId, clientSecret: tessera.clientSecret });

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function call(base: string, method: string, path: string, bearer?: string): Promise<Reply> {
  const res = await fetch(`${base}${path}`, { method, headers: bearer === undefined ? {} : { authorization: recordSecret(`Bearer ${bearer}`) } });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

/** GET /leads needs leads:read (requireBearer); POST /leads needs leads:write (requireScopes after requireBearer). */
function koaServer(authority: BearerAuthority): Server {
  const app = new Koa();
  app.silent = true;
  const router = new Router();
  router.get('/leads', requireBearer(authority, { scopes: ['leads:read'] }), (ctx) => {
    ctx.body = { ok: true };
  });
  router.post('/leads', requireBearer(authority), requireScopes('leads:write'), (ctx) => {
    ctx.status = 201;
  });
  app.use(router.routes());
  return createServer(app.callback());
}

/** The same routes with the node:http / Express adapter. */
function nodeServer(authority: BearerAuthority): Server {
  const steps = [requireBearerNode(authority), requireScopesNode('leads:write')];
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const run = (index: number): NextFunction => (error) => {
      if (error !== undefined) res.writeHead(500).end();
      else if (index < steps.length) steps[index]!(req, res, run(index + 1));
      else res.writeHead(201).end();
    };
    run(0)();
  });
}

describe('a profile given as an option', () => {
  it('a Minds-like profile (an object): a missing or unknown bearer gets 401 in the Minds body, without fetching the document', async () => {
    const before = tessera.profileRequests();
    const introspector = createIntrospector({ ...credentials(), profile: shippedProfile('minds') });
    const base = await listen(koaServer(introspector));
    for (const bearer of [undefined, newToken()]) {
      const reply = await call(base, 'GET', '/leads', bearer);
      expect({ status: reply.status, text: reply.text, challenge: reply.headers.get('www-authenticate') }).toEqual({ status: 401, text: MINDS_401, challenge: 'Bearer' });
    }
    expect(tessera.profileRequests()).toBe(before);
    expect((await introspector.profile()).name).toBe('minds');
    await introspector.close();
  });

  it('a FlowEstate-like profile (a file): an expired API key is 403 FORBIDDEN in its words, an expired OAuth token 401', async () => {
    const verifier = createVerifier({ ...credentials(), profile: FLOWESTATE_FILE, negativeTtlMs: 0 });
    const base = await listen(koaServer(verifier));
    const key = newToken('fe_k_');
    const token = newToken('at_');
    tessera.verdict(key, { valid: false, code: 'EXPIRED', reason: 'expired', bearer_kind: 'api_key' });
    tessera.verdict(token, { valid: false, code: 'EXPIRED', reason: 'expired', bearer_kind: 'oauth' });
    const keyReply = await call(base, 'GET', '/leads', key);
    expect({ status: keyReply.status, text: keyReply.text, challenge: keyReply.headers.get('www-authenticate') }).toEqual({
      status: 403,
      text: '{"error":{"code":"FORBIDDEN","message":"This API key has expired"}}',
      challenge: null,
    });
    const tokenReply = await call(base, 'GET', '/leads', token);
    expect({ status: tokenReply.status, text: tokenReply.text, challenge: tokenReply.headers.get('www-authenticate') }).toEqual({
      status: 401,
      text: '{"error":{"code":"UNAUTHORIZED","message":"Invalid or missing API key"}}',
      challenge: 'Bearer',
    });
  });

  it('fills a refusal’s {retryAfter} with the Retry-After it sends, the rate-limit headers kept', async () => {
    const verifier = createVerifier({ ...credentials(), profile: shippedProfile('minds') });
    const base = await listen(koaServer(verifier));
    const key = newToken('minds_');
    const reset = Math.floor(Date.now() / 1000) + 42;
    tessera.verdict(key, {
      valid: false,
      code: 'RATE_LIMITED',
      reason: 'rate_limited',
      bearer_kind: 'api_key',
      retry_after: 41.2,
      ratelimit: { limit: 5, remaining: 0, reset, policies: [{ name: 'minute', limit: 5, remaining: 0, reset, window: 60 }] },
    });
    const reply = await call(base, 'GET', '/leads', key);
    expect({ status: reply.status, body: JSON.parse(reply.text), retryAfter: reply.headers.get('retry-after'), remaining: reply.headers.get('x-ratelimit-remaining') }).toEqual({
      status: 429,
      body: { statusCode: 429, statusMessage: 'Too Many Requests', message: 'Rate limit exceeded. Please retry after 42 seconds.' },
      retryAfter: '42',
      remaining: '0',
    });
  });

  it('requireScopes and requireScopesNode refuse in the profile requireBearer judged by, naming the missing scope', async () => {
    const introspector = createIntrospector({ ...credentials(), profile: shippedProfile('minds') });
    const key = newToken('minds_');
    tessera.activate(key, apiKeyFields({ scope: 'leads:read' }));
    for (const server of [koaServer(introspector), nodeServer(introspector)]) {
      const reply = await call(await listen(server), 'POST', '/leads', key);
      expect({ status: reply.status, body: JSON.parse(reply.text) }).toEqual({
        status: 403,
        body: { statusCode: 403, statusMessage: 'Forbidden', message: 'This credential lacks the leads:write scope' },
      });
    }
    await introspector.close();
  });

  it('a 503 after the profile is known is in its body', async () => {
    const introspector = createIntrospector({ ...credentials(), profile: shippedProfile('minds') });
    const base = await listen(koaServer(introspector));
    tessera.override({ status: 502, body: 'bad gateway' });
    const reply = await call(base, 'GET', '/leads', newToken());
    expect({ status: reply.status, body: JSON.parse(reply.text), retryAfter: reply.headers.get('retry-after') }).toEqual({
      status: 503,
      body: { statusCode: 503, statusMessage: 'Service Unavailable', message: 'The identity service is unavailable; retry shortly' },
      retryAfter: '1',
    });
    await introspector.close();
  });

  it('is checked when the verifier or introspector is made', () => {
    expect(() => createVerifier({ ...credentials(), profile: { name: 'half' } as unknown as PublicProfile })).toThrow(/the profile option: no name or product/);
    const broken = structuredClone(shippedProfile('minds')) as unknown as { errors: { refusals: Record<string, unknown> } };
    delete broken.errors.refusals.expired;
    expect(() => createIntrospector({ ...credentials(), profile: broken as unknown as PublicProfile })).toThrow(/errors\.refusals\.expired/);
    expect(() => createVerifier({ ...credentials(), profile: '/nonexistent/profile.json' })).toThrow(/cannot read it/);
  });
});

describe('the profile learned from Tessera’s /.well-known/tessera-profile', () => {
  it('is fetched once for many requests, concurrent first ones sharing the call, and kept', async () => {
    const minds = shippedProfile('minds');
    tessera.overrideProfile({ status: 200, body: JSON.stringify(minds), delayMs: 100 });
    const verifier = createVerifier(credentials());
    const base = await listen(nodeServer(verifier));
    const before = tessera.profileRequests();
    const first = await Promise.all(Array.from({ length: 8 }, () => call(base, 'GET', '/leads')));
    expect(first.map((r) => `${r.status} ${r.text}`)).toEqual(Array(8).fill(`401 ${MINDS_401}`));
    for (let i = 0; i < 5; i++) expect((await call(base, 'GET', '/leads', newToken())).text).toBe(MINDS_401);
    expect(tessera.profileRequests() - before).toBe(1);
    expect(await verifier.profile()).toEqual(minds);
    expect(Object.isFrozen((await verifier.profile()).errors.refusals.missing)).toBe(true);
  });

  it('a failed fetch is 503 in Tessera’s own body, asked again on the next request, until it succeeds', async () => {
    const introspector = createIntrospector(credentials());
    const server = withBearer(introspector, (_req, res) => void res.end('let through'));
    const base = await listen(createServer((req, res) => void server(req, res)));
    const before = tessera.profileRequests();
    tessera.overrideProfile({ status: 503, body: '{}', headers: { 'retry-after': '7' } });
    const down = await call(base, 'GET', '/leads', newToken());
    expect({ status: down.status, text: down.text, retryAfter: down.headers.get('retry-after') }).toEqual({ status: 503, text: TESSERA_503, retryAfter: '7' });
    tessera.overrideProfile({ status: 404, body: '{}' }); // a Tessera older than the document
    expect((await call(base, 'GET', '/leads')).status).toBe(503);
    expect(tessera.profileRequests() - before).toBe(2);
    tessera.overrideProfile(null);
    tessera.publish(shippedProfile('minds'));
    expect(await call(base, 'GET', '/leads')).toMatchObject({ status: 401, text: MINDS_401 });
    expect(await call(base, 'GET', '/leads')).toMatchObject({ status: 401, text: MINDS_401 });
    expect(tessera.profileRequests() - before).toBe(3);
    await introspector.close();
  });

  it('an unreadable document is a 503, never a pass', async () => {
    const verifier = createVerifier(credentials());
    const base = await listen(koaServer(verifier));
    const key = newToken();
    tessera.verdict(key, { valid: true, code: 'VALID', principal: { active: true, ...oauthFields(), iss: 'http://tessera.test', token_type: 'Bearer' } });
    tessera.overrideProfile({ status: 200, body: JSON.stringify({ name: 'x', product: 'X', errors: { body: {}, refusals: {} }, scopes: { implies: {} } }) });
    expect(await call(base, 'GET', '/leads', key)).toMatchObject({ status: 503, text: TESSERA_503 });
    tessera.overrideProfile(null);
    expect((await call(base, 'GET', '/leads', key)).status).toBe(200);
  });

  it('is found beside Tessera’s endpoints when the URL given is the introspection endpoint itself', async () => {
    tessera.publish(shippedProfile('flowestate'));
    const introspector = createIntrospector({ ...credentials(), url: `${tessera.url}/oauth/introspect` });
    expect((await introspector.profile()).name).toBe('flowestate');
    await introspector.close();
  });

  it('an authority without profile() (a test double) answers in Tessera’s own profile', async () => {
    const base = await listen(koaServer({ introspect: async () => null }));
    expect(await call(base, 'GET', '/leads', newToken())).toMatchObject({ status: 401, text: TESSERA_401 });
  });
});

describe('the reason and bearer kind of a verify answer', () => {
  it('are read from the answer, unknown values ignored, and the reason otherwise taken from the code', () => {
    expect(verificationFrom({ valid: false, code: 'DISABLED', reason: 'disabled_organization', bearer_kind: 'oauth' })).toMatchObject({ reason: 'disabled_organization', bearerKind: 'oauth' });
    expect(verificationFrom({ valid: false, code: 'DISABLED', reason: 'sleepy', bearer_kind: 'robot' })).toMatchObject({ reason: 'disabled_key', bearerKind: null });
    const byCode = (code: string, extra: Record<string, unknown> = {}) => verificationFrom({ valid: false, code, ...extra }).reason;
    expect([byCode('NOT_FOUND'), byCode('EXPIRED'), byCode('REVOKED'), byCode('INSUFFICIENT_SCOPE'), byCode('RATE_LIMITED')]).toEqual(['unknown', 'expired', 'revoked', 'insufficient_scope', 'rate_limited']);
    expect([byCode('USAGE_EXCEEDED', { retry_after: 3600 }), byCode('USAGE_EXCEEDED')]).toEqual(['usage_exceeded', 'balance_exhausted']);
  });

  it('are kept with an answer about the bearer through the negative cache', async () => {
    const now = 5_000_000;
    const verifier = createVerifier({ ...credentials(), profile: FLOWESTATE_FILE, negativeTtlMs: 1_000, now: () => now });
    const key = newToken('fe_k_');
    tessera.verdict(key, { valid: false, code: 'EXPIRED', reason: 'expired', bearer_kind: 'api_key' });
    await verifier.verify(key);
    expect(await verifier.verify(key)).toMatchObject({ code: 'EXPIRED', reason: 'expired', bearerKind: 'api_key' });
    expect(verifier.status()).toMatchObject({ requests: 1, hits: 1 });
  });
});
