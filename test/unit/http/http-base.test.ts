/**
 * The HTTP base every route stands on: error bodies, 404/405/413/415/400, request ids, no stack
 * traces. Served over real HTTP from the same middleware the app uses, with a probe router that
 * reads JSON bodies and throws what routes throw.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Router from '@koa/router';
import Koa from 'koa';
import { request as httpRequest } from 'node:http';
import { AppError, BearerRefusedError, UnavailableError } from '../../../src/errors/index.ts';
import { baseMiddleware } from '../../../src/http/base-middleware.ts';
import { jsonBody } from '../../../src/http/middleware/json-body.ts';
import { methodNotAllowed } from '../../../src/http/middleware/method-not-allowed.ts';
import { readFileSync } from 'node:fs';
import { serve, type RunningApp } from '../../support/http-client.ts';
import { testConfig, testLogger } from '../../support/test-config.ts';

let running: RunningApp;
let logFile: string;

beforeAll(async () => {
  const config = testConfig({ TESSERA_BODY_LIMIT_BYTES: '1024' }, 'http-base');
  logFile = config.logFile!;
  const logger = testLogger(config);
  const router = new Router();
  router.post('/echo', jsonBody({ limitBytes: config.bodyLimitBytes }), (ctx) => {
    ctx.body = { received: ctx.state.body ?? null };
  });
  router.get('/boom', () => {
    throw new Error('secret internals at /srv/app.ts:42');
  });
  router.get('/unauthorized', () => {
    throw new BearerRefusedError('unknown');
  });
  router.get('/unavailable', () => {
    throw new UnavailableError('Redis is unreachable', 7);
  });
  router.get('/validation', () => {
    throw new AppError('VALIDATION_FAILED', 'name must be 1–100 characters', { field: 'name' });
  });
  const app = new Koa();
  for (const middleware of baseMiddleware(logger, testConfig().profile.errors)) app.use(middleware);
  app.use(methodNotAllowed(router));
  app.use(router.routes());
  running = await serve(app);
});

afterAll(async () => {
  await running.close();
});

const post = (path: string, body: string, contentType = 'application/json'): Promise<Response> =>
  fetch(`${running.url}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body });

describe('HTTP base', () => {
  it('answers unknown routes with 404 in the error body shape', async () => {
    const res = await fetch(`${running.url}/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'No route for GET /nope' } });
  });

  it('answers a wrong method with 405 and Allow', async () => {
    const res = await fetch(`${running.url}/echo`, { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect((await errorOf(res)).code).toBe('METHOD_NOT_ALLOWED');
  });

  it('parses a JSON body', async () => {
    const res = await post('/echo', '{"name":"prod"}');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: { name: 'prod' } });
  });

  it('accepts an empty body', async () => {
    const res = await fetch(`${running.url}/echo`, { method: 'POST' });
    expect(await res.json()).toEqual({ received: null });
  });

  it('refuses malformed JSON with 400', async () => {
    const res = await post('/echo', '{"name":');
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: 'BAD_REQUEST', message: 'Request body is not valid JSON' } });
  });

  it('refuses a body that is not JSON with 415', async () => {
    const res = await post('/echo', 'name=prod', 'application/x-www-form-urlencoded');
    expect(res.status).toBe(415);
    expect((await errorOf(res))).toEqual({ code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Content-Type must be application/json' });
  });

  it('refuses a body over the limit with 413, by Content-Length', async () => {
    const res = await post('/echo', JSON.stringify({ pad: 'x'.repeat(2_000) }));
    expect(res.status).toBe(413);
    expect((await errorOf(res)).code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('refuses a chunked body over the limit with 413 while streaming', async () => {
    const { status, body } = await chunkedPost('/echo', ['{"pad":"', 'x'.repeat(800), 'x'.repeat(800), '"}']);
    expect(status).toBe(413);
    expect(JSON.parse(body).error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('refuses invalid UTF-8 with 400', async () => {
    const res = await fetch(`${running.url}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.from([0x22, 0xff, 0xfe, 0x22]) });
    expect(res.status).toBe(400);
  });

  it('hides unexpected errors behind a plain 500, with no stack or internals', async () => {
    const res = await fetch(`${running.url}/boom`);
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: { code: 'INTERNAL', message: 'Internal server error' } });
    expect(text).not.toMatch(/secret internals|app\.ts|at /);
  });

  it('sends WWW-Authenticate: Bearer with 401', async () => {
    const res = await fetch(`${running.url}/unauthorized`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(await res.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: 'Invalid or missing API key' } });
  });

  it('sends Retry-After with 503', async () => {
    const res = await fetch(`${running.url}/unavailable`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('7');
  });

  it('names the field of a validation error', async () => {
    const res = await fetch(`${running.url}/validation`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: 'VALIDATION_FAILED', message: 'name must be 1–100 characters', field: 'name' } });
  });

  it('puts a request id on every response, keeping a well-formed one from the caller', async () => {
    const own = await fetch(`${running.url}/nope`, { headers: { 'x-request-id': 'trace-123' } });
    expect(own.headers.get('x-request-id')).toBe('trace-123');
    const bad = await fetch(`${running.url}/nope`, { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const error = await fetch(`${running.url}/boom`);
    expect(error.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('marks responses uncacheable and unsniffable', async () => {
    const res = await fetch(`${running.url}/nope`);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('logs one line per request with the request id, and never the query string', async () => {
    await fetch(`${running.url}/nope?access_token=should-not-be-logged`, { headers: { 'x-request-id': 'log-check-1' } });
    const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const line = lines.find((l) => l.requestId === 'log-check-1');
    expect(line).toMatchObject({ method: 'GET', path: '/nope', status: 404, msg: 'request' });
    expect(readFileSync(logFile, 'utf8')).not.toContain('should-not-be-logged');
  });
});

async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  return ((await res.json()) as { error: { code: string; message: string } }).error;
}

function chunkedPost(path: string, chunks: string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${running.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}
