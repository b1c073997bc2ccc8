/**
 * POST /oauth/introspect (RFC 7662), served in front of Koa by a bare node:http handler: it is
 * the one route resource servers call on every request they receive, and Koa's per-request
 * context, middleware chain and header bookkeeping were most of its cost. It keeps what the Koa
 * base gives every response — a request id, the security headers, one access-log line, errors in
 * a fixed shape — and nothing else.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isAppError } from '../errors/index.ts';
import type { Logger } from '../logger.ts';
import type { ClientAuthenticator } from '../services/client-authenticator.ts';
import type { FailureThrottle } from '../services/failure-throttle.ts';
import type { IntrospectionService } from '../services/introspection-service.ts';
import { clientCredentials } from './client-credentials.ts';

export const INTROSPECTION_PATH = '/oauth/introspect';
const FORM_LIMIT_BYTES = 16 * 1024;
const INACTIVE_BODY = '{"active":false}';
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface IntrospectionHandlerDeps {
  introspection: IntrospectionService;
  clients: ClientAuthenticator;
  throttle: FailureThrottle;
  logger: Logger;
  trustProxy: boolean;
}

type Reply = { status: number; body: string; headers?: Record<string, string> };

/** Handles the request when it is an introspection (returns true); leaves anything else alone. */
export function introspectionHandler(deps: IntrospectionHandlerDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const path = req.url === undefined ? '' : req.url.split('?', 1)[0];
    if (path !== INTROSPECTION_PATH || req.method !== 'POST') return false;
    const started = process.hrtime.bigint();
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const ip = clientIp(req, deps.trustProxy);
    void answer(req, ip, deps)
      .catch((error: unknown): Reply => {
        if (isAppError(error) && error.code === 'UNAVAILABLE') {
          return { status: 503, body: oauthError('temporarily_unavailable', 'Try again shortly'), headers: { 'Retry-After': '5' } };
        }
        deps.logger.error({ requestId, err: error }, 'unhandled error');
        return { status: 500, body: '{"error":{"code":"INTERNAL","message":"Internal server error"}}' };
      })
      .then((reply) => {
        res.writeHead(reply.status, {
          'Content-Type': 'application/json; charset=utf-8',
          'Content-Length': Buffer.byteLength(reply.body),
          'Cache-Control': 'no-store',
          Pragma: 'no-cache',
          'X-Request-Id': requestId,
          'X-Content-Type-Options': 'nosniff',
          'Referrer-Policy': 'no-referrer',
          ...reply.headers,
        });
        res.end(reply.body);
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        const fields = { requestId, method: 'POST', path: INTROSPECTION_PATH, status: reply.status, ms: Math.round(ms * 100) / 100, ip };
        if (reply.status >= 500) deps.logger.error(fields, 'request failed');
        else deps.logger.info(fields, 'request');
      });
    return true;
  };
}

async function answer(req: IncomingMessage, ip: string, deps: IntrospectionHandlerDeps): Promise<Reply> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/x-www-form-urlencoded\b/i.test(type)) {
    await drain(req);
    return { status: 415, body: '{"error":{"code":"UNSUPPORTED_MEDIA_TYPE","message":"Expected a form submission"}}' };
  }
  const raw = await readBody(req);
  if (raw === null) return { status: 413, body: '{"error":{"code":"PAYLOAD_TOO_LARGE","message":"Form too large"}}', headers: { Connection: 'close' } };
  const form = new URLSearchParams(raw);

  // RFC 6749 §2.3: only resource servers may ask, and guessing their secrets is throttled.
  const address = `client:${ip}`;
  const wait = deps.throttle.blocked(address);
  if (wait !== null) return { status: 429, body: oauthError('slow_down', 'Too many failed client authentications'), headers: { 'Retry-After': String(wait) } };
  const credentials = clientCredentials(req.headers.authorization, form);
  const client = credentials ? await deps.clients.authenticate(credentials) : null;
  if (!client || client.type !== 'resource_server') {
    await deps.throttle.failed(address);
    return { status: 401, body: oauthError('invalid_client', 'client authentication failed'), headers: { 'WWW-Authenticate': 'Basic realm="tessera"' } };
  }
  const token = form.get('token');
  if (token === null) return { status: 400, body: oauthError('invalid_request', 'token is required') };
  const result = await deps.introspection.introspect(client, token);
  return { status: 200, body: result.active ? JSON.stringify(result) : INACTIVE_BODY };
}

/** The body as text, or null past the limit (reading stops there). */
async function readBody(req: IncomingMessage): Promise<string | null> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > FORM_LIMIT_BYTES) return null;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > FORM_LIMIT_BYTES) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function drain(req: IncomingMessage): Promise<void> {
  for await (const _ of req as AsyncIterable<Buffer>) {
    // discard
  }
}

/** RFC 6749 §5.2 error body. */
function oauthError(error: string, description: string): string {
  return JSON.stringify({ error, error_description: description });
}

/** As Koa's ctx.ip: the first X-Forwarded-For address only behind a trusted proxy. */
function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  const forwarded = trustProxy ? req.headers['x-forwarded-for'] : undefined;
  const first = typeof forwarded === 'string' ? forwarded.split(',', 1)[0]!.trim() : '';
  return first || req.socket.remoteAddress || '';
}
