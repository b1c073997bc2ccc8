/**
 * POST /oauth/introspect (RFC 7662), served in front of Koa by a bare node:http handler: it is
 * the one route resource servers call on every request they receive, and Koa's per-request
 * context, middleware chain and header bookkeeping were most of its cost. It keeps what the Koa
 * base gives every response — a request id, the security headers, one access-log line, errors in
 * a fixed shape — and nothing else.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { andThen, type Awaitable } from '../domain/awaitable.ts';
import type { OAuthClient } from '../domain/oauth.ts';
import { AppError, isAppError } from '../errors/index.ts';
import { accessLog, elapsedMs, type Logger } from '../logger.ts';
import type { ClientAuthenticator } from '../services/authentication/client-authenticator.ts';
import type { ClientAuthThrottle } from '../services/limits/client-auth-throttle.ts';
import type { Introspection, IntrospectionService } from '../services/authentication/introspection-service.ts';
import { abortStatus, isClientAbort } from './client-abort.ts';
import { clientAddress } from './client-address.ts';
import { clientCredentials } from './client-credentials.ts';
import { invalidClient, invalidRequest, slowDown, temporarilyUnavailable, type OAuthErrorReply } from './oauth-error.ts';
import { errorReply } from './error-body.ts';
import { requestIdFor } from './middleware/request-id.ts';
import { SECURITY_HEADERS } from './middleware/security-headers.ts';

export const INTROSPECTION_PATH = '/oauth/introspect';
const FORM_LIMIT_BYTES = 16 * 1024;
const INACTIVE_BODY = '{"active":false}';
const FORM_TYPE = /^application\/x-www-form-urlencoded\b/i;

export interface IntrospectionHandlerDeps {
  introspection: IntrospectionService;
  clients: ClientAuthenticator;
  throttle: ClientAuthThrottle;
  logger: Logger;
  /** Trusted proxies in front of Tessera (see clientAddress). */
  proxyHops: number;
}

type Reply = { status: number; body: string; headers?: Record<string, string> };

/** What every answer carries, as the Koa base gives every other route (RFC 7662 §2.2: no caching). */
const FIXED_HEADERS: readonly string[] = [
  'Content-Type',
  'application/json; charset=utf-8',
  ...Object.entries(SECURITY_HEADERS).flat(),
  'Pragma',
  'no-cache',
];

/** Handles the request when it is an introspection (returns true); leaves anything else alone. */
export function introspectionHandler(deps: IntrospectionHandlerDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const access = accessLog(deps.logger);
  const verifiedOn: VerifiedHeaders = new WeakMap();
  return (req, res) => {
    if (req.method !== 'POST' || !isIntrospectionUrl(req.url)) return false;
    const started = process.hrtime.bigint();
    const requestId = requestIdFor(req.headers['x-request-id']);
    const ip = clientAddress(req, deps.proxyHops);
    const send = (reply: Reply): void => {
      // One answer per request, even should the request fail after it was answered (its error
      // listener stays, so that a late error is never unhandled).
      if (res.headersSent) return;
      // A flat [name, value, …] list: node:http takes it as is, where an object is walked key by key.
      const headers = [...FIXED_HEADERS, 'Content-Length', String(Buffer.byteLength(reply.body)), 'X-Request-Id', requestId];
      if (reply.headers) for (const [name, value] of Object.entries(reply.headers)) headers.push(name, value);
      res.writeHead(reply.status, headers);
      res.end(reply.body);
      access({ requestId, method: 'POST', path: INTROSPECTION_PATH, status: reply.status, ms: elapsedMs(started), ip });
    };
    const fail = (error: unknown): void => {
      if (res.headersSent) return;
      if (!isClientAbort(error, req)) {
        send(failure(error, requestId, deps.logger));
        return;
      }
      // Nobody is left to answer: not a failure of the server.
      deps.logger.info({ requestId, method: 'POST', path: INTROSPECTION_PATH }, 'client aborted the request');
      access({ requestId, method: 'POST', path: INTROSPECTION_PATH, status: abortStatus(req), ms: elapsedMs(started), ip });
    };
    if (!FORM_TYPE.test(req.headers['content-type'] ?? '')) {
      drain(req, () => send(UNSUPPORTED_MEDIA_TYPE), fail);
      return true;
    }
    // Callbacks and plain values rather than async functions: a request whose client and bearer
    // are both cached is answered without a single promise.
    readBody(
      req,
      (raw) => {
        let reply: Awaitable<Reply>;
        try {
          reply = raw === null ? PAYLOAD_TOO_LARGE : answer(req, new URLSearchParams(raw), ip, deps, verifiedOn);
        } catch (error) {
          fail(error);
          return;
        }
        if (reply instanceof Promise) reply.then(send, fail);
        else send(reply);
      },
      fail,
    );
    return true;
  };
}

function answer(req: IncomingMessage, form: URLSearchParams, ip: string, deps: IntrospectionHandlerDeps, verifiedOn: VerifiedHeaders): Awaitable<Reply> {
  // RFC 6749 §2.3: only resource servers may ask, and guessing their secrets is throttled.
  const header = req.headers.authorization;
  const seen = header === undefined ? undefined : verifiedOn.get(req.socket);
  const known = seen && seen.header === header && !form.has('client_secret') ? seen : undefined;
  const credentials = known ? null : clientCredentials(header, form);
  const clientId = known?.clientId ?? credentials?.clientId ?? form.get('client_id');
  const wait = deps.throttle.blocked(ip, clientId);
  if (wait !== null) return serializedReply(slowDown(wait));
  let authenticated: Awaitable<OAuthClient | null>;
  if (known) authenticated = deps.clients.confirm(known.clientId, known.secretHash);
  else authenticated = credentials ? deps.clients.authenticate(credentials) : null;
  return andThen(authenticated, (client) => {
    if (!client || client.type !== 'resource_server') {
      verifiedOn.delete(req.socket);
      return andThen(deps.throttle.failed(ip, clientId), () => INVALID_CLIENT);
    }
    if (header !== undefined && !known) verifiedOn.set(req.socket, { header, clientId: client.id, secretHash: client.secretHash });
    const token = form.get('token');
    if (token === null) return TOKEN_REQUIRED;
    return andThen(deps.introspection.introspect(client, token), (result) => ({ status: 200, body: serialized(result) }));
  });
}

/**
 * Per keep-alive connection, the Authorization header last verified on it. A resource server
 * sends the same header on every request of a connection: comparing it with what this same
 * connection sent before costs no decoding or hashing (a tenth of an introspection), and reveals
 * nothing any other connection sent. The client's current record is still checked every time.
 */
type VerifiedHeaders = WeakMap<Socket, { header: string; clientId: string; secretHash: string }>;

const bodies = new WeakMap<Introspection, string>();

/** The introspection service answers a cached bearer with the same object each time: serialised once. */
function serialized(result: Introspection): string {
  if (!result.active) return INACTIVE_BODY;
  let body = bodies.get(result);
  if (body === undefined) bodies.set(result, (body = JSON.stringify(result)));
  return body;
}

function failure(error: unknown, requestId: string, logger: Logger): Reply {
  if (isAppError(error) && error.code === 'UNAVAILABLE') {
    return UNAVAILABLE;
  }
  logger.error({ requestId, err: error }, 'unhandled error');
  return INTERNAL;
}

/**
 * The body as text, or null past the limit: reading stops there, and the answer (413) closes the
 * connection. Events rather than `for await`, which costs a promise per chunk.
 */
function readBody(req: IncomingMessage, done: (raw: string | null) => void, failed: (error: unknown) => void): void {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > FORM_LIMIT_BYTES) {
    done(null);
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const finish = (raw: string | null): void => {
    req.off('data', onData).off('end', onEnd);
    done(raw);
  };
  const onData = (chunk: Buffer): void => {
    size += chunk.length;
    if (size > FORM_LIMIT_BYTES) {
      req.pause();
      finish(null);
      return;
    }
    chunks.push(chunk);
    // The whole declared body is here: answer now rather than a tick later at 'end' (the
    // parser has read the message; the stream still ends by itself).
    if (size === declared) finish(text(chunks));
  };
  const onEnd = (): void => finish(text(chunks));
  req.on('data', onData).on('end', onEnd).once('error', failed);
}

const text = (chunks: Buffer[]): string => (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8');

/** Reads and discards the body, so that the connection can serve the next request. */
function drain(req: IncomingMessage, done: () => void, failed: (error: unknown) => void): void {
  req.once('end', done).once('error', failed).resume();
}

/** The introspection path, with or without a query string (which is never looked at). */
function isIntrospectionUrl(url: string | undefined): boolean {
  return url !== undefined && url.startsWith(INTROSPECTION_PATH) && (url.length === INTROSPECTION_PATH.length || url[INTROSPECTION_PATH.length] === '?');
}

/** An OAuth error as this handler sends it: its body serialised once. */
function serializedReply(error: OAuthErrorReply): Reply {
  return { status: error.status, body: JSON.stringify(error.body), headers: error.headers };
}

/** An error in the one error body, its status from the one mapping every route uses. */
function appErrorReply(error: AppError): Reply {
  const { status, headers, body } = errorReply(error);
  return { status, headers, body: JSON.stringify(body) };
}

const UNSUPPORTED_MEDIA_TYPE = appErrorReply(new AppError('UNSUPPORTED_MEDIA_TYPE', 'Expected a form submission'));
const PAYLOAD_TOO_LARGE = appErrorReply(new AppError('PAYLOAD_TOO_LARGE', 'Form too large', { headers: { Connection: 'close' } }));
const INTERNAL = appErrorReply(new AppError('INTERNAL', 'Internal server error'));
const INVALID_CLIENT = serializedReply(invalidClient());
const TOKEN_REQUIRED = serializedReply(invalidRequest('token is required'));
const UNAVAILABLE = serializedReply(temporarilyUnavailable());
