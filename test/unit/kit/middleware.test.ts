/**
 * The kit's adapters — Koa (requireBearer, requireScopes) and node:http / Express
 * (requireBearerNode, requireScopesNode, withBearer) — over real HTTP, with a real introspector
 * against a fake Tessera: 401 with Tessera's exact error body and `WWW-Authenticate: Bearer`, 403
 * FORBIDDEN naming the missing scope, 503 with Retry-After when Tessera fails (the handler never
 * runs), and the principal handed to the handler.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import Router from '@koa/router';
import Koa from 'koa';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createIntrospector,
  principalOf,
  requireBearer,
  requireBearerNode,
  requireScopes,
  requireScopesNode,
  withBearer,
  type BearerRequest,
  type Introspector,
  type NextFunction,
} from '../../../kit/index.ts';
import { recordSecret } from '../../support/log-capture.ts';
import { apiKeyFields, closedPort, newToken, oauthFields, startFakeTessera, type FakeTessera } from './fake-tessera.ts';

const UNAUTHORIZED_BODY = '{"error":{"code":"UNAUTHORIZED","message":"Invalid or missing API key"}}';
const UNAVAILABLE_BODY = '{"error":{"code":"UNAVAILABLE","message":"The identity service is unavailable; retry shortly"}}';
const forbiddenBody = (scope: string): string => JSON.stringify({ error: { code: 'FORBIDDEN', message: `This credential lacks the ${scope} scope` } });

interface Reply {
  status: number;
  text: string;
  headers: Headers;
}

let tessera: FakeTessera;
let introspector: Introspector;
/** Handlers that ran, by route: a refused request must run none. */
let handled: string[] = [];
const readKey = newToken();
const writeKey = newToken();
const oauthToken = newToken('at_');

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function call(base: string, method: string, path: string, authorization?: string): Promise<Reply> {
  const res = await fetch(`${base}${path}`, { method, headers: authorization === undefined ? {} : { authorization: recordSecret(authorization) } });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

function expectUnauthorized(reply: Reply): void {
  expect({ status: reply.status, text: reply.text, challenge: reply.headers.get('www-authenticate'), type: reply.headers.get('content-type') }).toEqual({
    status: 401,
    text: UNAUTHORIZED_BODY,
    challenge: 'Bearer',
    type: 'application/json; charset=utf-8',
  });
}

function expectForbidden(reply: Reply, scope: string): void {
  expect({ status: reply.status, text: reply.text, challenge: reply.headers.get('www-authenticate') }).toEqual({ status: 403, text: forbiddenBody(scope), challenge: null });
}

function expectUnavailable(reply: Reply, retryAfter: string): void {
  expect({ status: reply.status, text: reply.text, retryAfter: reply.headers.get('retry-after') }).toEqual({ status: 503, text: UNAVAILABLE_BODY, retryAfter });
}

beforeAll(async () => {
  tessera = await startFakeTessera();
  tessera.activate(readKey, apiKeyFields({ scope: 'leads:read' }));
  tessera.activate(writeKey, apiKeyFields({ scope: 'leads:read leads:write', key_id: 'k_2' }));
  tessera.activate(oauthToken, oauthFields());
  introspector = createIntrospector({ url: tessera.url, clientId: tessera.clientId, clientSecret: tessera.clientSecret });
});
afterAll(async () => {
  await introspector.close();
  await tessera.close();
});
beforeEach(() => {
  handled = [];
  tessera.override(null);
});

/** The cases every adapter must get right, given a server with GET /leads (leads:read) and POST /leads (leads:write). */
function describeAdapter(name: string, start: (introspector: Introspector) => Promise<{ url: string; server: Server }>): void {
  describe(name, () => {
    let base: string;
    let server: Server;
    beforeAll(async () => {
      ({ url: base, server } = await start(introspector));
    });
    afterAll(async () => {
      await close(server);
    });

    it('answers 401 with the exact body and WWW-Authenticate: Bearer when the header is missing, without asking Tessera', async () => {
      const before = tessera.calls.length;
      expectUnauthorized(await call(base, 'GET', '/leads'));
      expect(tessera.calls.length).toBe(before);
      expect(handled).toEqual([]);
    });

    it('answers 401 for a header that is not a bearer', async () => {
      for (const header of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer ', `Bearer ${readKey} extra`, `Token ${readKey}`, `Bearer ${'x'.repeat(4097)}`]) {
        expectUnauthorized(await call(base, 'GET', '/leads', header));
      }
      expect(handled).toEqual([]);
    });

    it('answers 401 for a bearer Tessera says is inactive', async () => {
      expectUnauthorized(await call(base, 'GET', '/leads', `Bearer ${newToken()}`));
      expect(handled).toEqual([]);
    });

    it('lets an active bearer with the scope through, with its principal, for both bearer kinds', async () => {
      const key = await call(base, 'GET', '/leads', `bearer ${readKey}`);
      expect(key.status).toBe(200);
      expect(JSON.parse(key.text)).toMatchObject({ kind: 'api_key', org_id: 'o_acme', key_id: 'k_1', scopes: ['leads:read'] });
      const oauth = await call(base, 'GET', '/leads', `Bearer ${oauthToken}`);
      expect(oauth.status).toBe(200);
      expect(JSON.parse(oauth.text)).toMatchObject({ kind: 'oauth', org_id: 'o_globex', grant_id: 'g_1', client_id: 'zapier', scopes: ['leads:read', 'leads:write'] });
      expect(handled).toEqual(['GET /leads', 'GET /leads']);
    });

    it('answers 403 FORBIDDEN naming the missing scope', async () => {
      expectForbidden(await call(base, 'POST', '/leads', `Bearer ${readKey}`), 'leads:write');
      expect(handled).toEqual([]);
      expect((await call(base, 'POST', '/leads', `Bearer ${writeKey}`)).status).toBe(201);
      expect((await call(base, 'POST', '/leads', `Bearer ${oauthToken}`)).status).toBe(201);
    });

    it('answers 503 with Retry-After when Tessera answers 5xx, and never runs the handler', async () => {
      const token = newToken();
      tessera.activate(token, apiKeyFields());
      tessera.override({ status: 503, body: '{}', headers: { 'retry-after': '5' } });
      expectUnavailable(await call(base, 'GET', '/leads', `Bearer ${token}`), '5');
      tessera.override({ status: 502, body: 'bad gateway' });
      expectUnavailable(await call(base, 'GET', '/leads', `Bearer ${token}`), '1');
      expect(handled).toEqual([]);
    });
  });
}

function koaApp(i: Introspector): Koa {
  const app = new Koa();
  app.silent = true;
  const router = new Router();
  router.get('/leads', requireBearer(i, { scopes: ['leads:read'] }), (ctx) => {
    handled.push('GET /leads');
    ctx.body = principalOf(ctx);
  });
  router.post('/leads', requireBearer(i), requireScopes('leads:write'), (ctx) => {
    handled.push('POST /leads');
    ctx.status = 201;
    ctx.body = { org_id: principalOf(ctx).org_id };
  });
  router.get('/unguarded', requireScopes('leads:read'), (ctx) => {
    handled.push('GET /unguarded');
    ctx.body = 'ok';
  });
  app.use(router.routes());
  return app;
}

describeAdapter('Koa: requireBearer and requireScopes', async (i) => {
  const server = createServer(koaApp(i).callback());
  return { url: await listen(server), server };
});

/** A three-line Express stand-in: runs (req, res, next) middleware in order, errors to a 500. */
function chain(...steps: Array<(req: IncomingMessage, res: ServerResponse, next: NextFunction) => void>): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const run = (index: number, error?: unknown): void => {
      if (error !== undefined) {
        res.writeHead(500).end(String((error as Error).message));
        return;
      }
      steps[index]?.(req, res, (e) => run(index + 1, e));
    };
    run(0);
  };
}

describeAdapter('node:http / Express: requireBearerNode and requireScopesNode', async (i) => {
  const read = chain(requireBearerNode(i, { scopes: ['leads:read'] }), (req, res) => {
    handled.push('GET /leads');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify((req as BearerRequest).principal));
  });
  const write = chain(requireBearerNode(i), requireScopesNode('leads:write'), (_req, res) => {
    handled.push('POST /leads');
    res.writeHead(201).end();
  });
  const server = createServer((req, res) => (req.method === 'POST' ? write(req, res) : read(req, res)));
  return { url: await listen(server), server };
});

describeAdapter('bare node:http: withBearer', async (i) => {
  const read = withBearer(
    i,
    (req, res) => {
      handled.push('GET /leads');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(req.principal));
    },
    { scopes: ['leads:read'] },
  );
  const write = withBearer(
    i,
    (_req, res) => {
      handled.push('POST /leads');
      res.writeHead(201).end();
    },
    { scopes: ['leads:write'] },
  );
  const server = createServer((req, res) => void (req.method === 'POST' ? write(req, res) : read(req, res)));
  return { url: await listen(server), server };
});

describe('wiring mistakes and unreachable Tessera', () => {
  it('Koa: requireScopes without requireBearer is a 500, never a pass', async () => {
    const server = createServer(koaApp(introspector).callback());
    const base = await listen(server);
    try {
      const reply = await call(base, 'GET', '/unguarded', `Bearer ${readKey}`);
      expect(reply.status).toBe(500);
      expect(handled).toEqual([]);
    } finally {
      await close(server);
    }
  });

  it('node: requireScopesNode without requireBearerNode goes to next(error)', async () => {
    const server = createServer(chain(requireScopesNode('leads:read'), (_req, res) => res.end('let through')));
    const base = await listen(server);
    try {
      expect((await call(base, 'GET', '/', `Bearer ${readKey}`)).status).toBe(500);
    } finally {
      await close(server);
    }
  });

  it('withBearer: a handler that throws is a 500 with Tessera’s error body', async () => {
    const server = createServer(
      withBearer(introspector, () => {
        throw new Error('boom');
      }),
    );
    const base = await listen(server);
    try {
      const reply = await call(base, 'GET', '/', `Bearer ${readKey}`);
      expect({ status: reply.status, text: reply.text }).toEqual({ status: 500, text: '{"error":{"code":"INTERNAL","message":"Internal error"}}' });
    } finally {
      await close(server);
    }
  });

  it('Tessera unreachable: 503 with Retry-After from every adapter', async () => {
    const down = createIntrospector({ url: `http://127.0.0.1:${await closedPort()}`, clientId: 'leads_api', clientSecret: recordSecret('x'.repeat(32)) });
    const servers = [
      createServer(koaApp(down).callback()),
      createServer(chain(requireBearerNode(down), (_req, res) => res.end('let through'))),
      createServer(withBearer(down, (_req, res) => void res.end('let through'))),
    ];
    try {
      for (const server of servers) {
        const base = await listen(server);
        expectUnavailable(await call(base, 'GET', '/leads', `Bearer ${readKey}`), '1');
      }
      expect(handled).toEqual([]);
    } finally {
      await Promise.all(servers.map(close));
      await down.close();
    }
  });

  it('rejects required scopes that are not scope-tokens, at mount time', () => {
    expect(() => requireBearer(introspector, { scopes: ['leads read'] })).toThrow(TypeError);
    expect(() => requireScopesNode('')).toThrow(TypeError);
  });
});
