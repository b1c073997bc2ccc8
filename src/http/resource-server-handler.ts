/**
 * The endpoints resource servers call on every request they receive — introspection (RFC 7662)
 * and verification — served in front of Koa by a bare node:http handler: Koa's per-request
 * context, middleware chain and header bookkeeping were most of their cost. It keeps what the Koa
 * base gives every response — a request id, the security headers, one access-log line, errors in
 * a fixed shape — and nothing else. Each endpoint says how its body is parsed and answered; the
 * handler reads the body, authenticates the resource server (RFC 6749 §2.3; guessing its secret
 * is throttled) and writes the answer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { andThen, type Awaitable } from '../domain/awaitable.ts';
import type { OAuthClient } from '../domain/oauth.ts';
import { AppError, isAppError } from '../errors/index.ts';
import { accessLog, elapsedMs, type Logger } from '../logger.ts';
import type { ClientAuthenticator } from '../services/authentication/client-authenticator.ts';
import type { ClientAuthThrottle } from '../services/limits/client-auth-throttle.ts';
import { abortStatus, isClientAbort } from './client-abort.ts';
import { clientAddress } from './client-address.ts';
import { clientCredentials } from './client-credentials.ts';
import { invalidClient, slowDown, temporarilyUnavailable, type OAuthErrorReply } from './oauth-error.ts';
import { errorReply } from './error-body.ts';
import { requestIdFor } from './middleware/request-id.ts';
import { SECURITY_HEADERS } from './middleware/security-headers.ts';

const BODY_LIMIT_BYTES = 16 * 1024;

export interface ResourceServerHandlerDeps {
  clients: ClientAuthenticator;
  throttle: ClientAuthThrottle;
  logger: Logger;
  /** Trusted proxies in front of Tessera (see clientAddress). */
  proxyHops: number;
}

export type Reply = { status: number; body: string; headers?: Record<string, string> };

/** One endpoint: its path, the body it takes, and its answer to an authenticated resource server. */
export interface ResourceServerEndpoint<P> {
  path: string;
  /** The content type of its body; another is 415 with `expects` as the message. */
  accepts: RegExp;
  expects: string;
  /** The body parsed, or the answer to a body that is not one (400). */
  parse(raw: string): P | { reply: Reply };
  /** Client credentials in the body itself (client_secret_post, RFC 6749 §2.3.1), if it carries any. */
  credentialsIn(parsed: P): URLSearchParams | null;
  answer(client: OAuthClient, parsed: P): Awaitable<Reply>;
}

/** What every answer carries, as the Koa base gives every other route (RFC 7662 §2.2: no caching). */
const FIXED_HEADERS: readonly string[] = [
  'Content-Type',
  'application/json; charset=utf-8',
  ...Object.entries(SECURITY_HEADERS).flat(),
  'Pragma',
  'no-cache',
];

/** Handles a request to one of the endpoints (returns true); leaves anything else alone. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each endpoint parses its own body type
export function resourceServerHandler(deps: ResourceServerHandlerDeps, endpoints: ReadonlyArray<ResourceServerEndpoint<any>>): (req: IncomingMessage, res: ServerResponse) => boolean {
  const access = accessLog(deps.logger);
  const verifiedOn: VerifiedHeaders = new WeakMap();
  return (req, res) => {
    if (req.method !== 'POST') return false;
    const endpoint = endpoints.find((e) => isUrlOf(e.path, req.url));
    if (!endpoint) return false;
    const path = endpoint.path;
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
      access({ requestId, method: 'POST', path, status: reply.status, ms: elapsedMs(started), ip });
    };
    const fail = (error: unknown): void => {
      if (res.headersSent) return;
      if (!isClientAbort(error, req)) {
        send(failure(error, requestId, deps.logger));
        return;
      }
      // Nobody is left to answer: not a failure of the server.
      deps.logger.info({ requestId, method: 'POST', path }, 'client aborted the request');
      access({ requestId, method: 'POST', path, status: abortStatus(req), ms: elapsedMs(started), ip });
    };
    if (!endpoint.accepts.test(req.headers['content-type'] ?? '')) {
      drain(req, () => send(appErrorReply(new AppError('UNSUPPORTED_MEDIA_TYPE', endpoint.expects))), fail);
      return true;
    }
    // Callbacks and plain values rather than async functions: a request whose client and bearer
    // are both cached is answered without a single promise.
    readBody(
      req,
      (raw) => {
        let reply: Awaitable<Reply>;
        try {
          reply = raw === null ? PAYLOAD_TOO_LARGE : answer(req, endpoint, raw, ip, deps, verifiedOn);
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

function answer<P>(req: IncomingMessage, endpoint: ResourceServerEndpoint<P>, raw: string, ip: string, deps: ResourceServerHandlerDeps, verifiedOn: VerifiedHeaders): Awaitable<Reply> {
  const parsed = endpoint.parse(raw);
  if (isReply(parsed)) return parsed.reply;
  // RFC 6749 §2.3: only resource servers may ask, and guessing their secrets is throttled.
  const form = endpoint.credentialsIn(parsed) ?? NO_FORM;
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
    return endpoint.answer(client, parsed);
  });
}

const NO_FORM = new URLSearchParams();

function isReply<P>(parsed: P | { reply: Reply }): parsed is { reply: Reply } {
  return typeof parsed === 'object' && parsed !== null && 'reply' in parsed;
}

/**
 * Per keep-alive connection, the Authorization header last verified on it. A resource server
 * sends the same header on every request of a connection: comparing it with what this same
 * connection sent before costs no decoding or hashing (a tenth of an introspection), and reveals
 * nothing any other connection sent. The client's current record is still checked every time.
 */
type VerifiedHeaders = WeakMap<Socket, { header: string; clientId: string; secretHash: string }>;

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
  if (declared > BODY_LIMIT_BYTES) {
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
    if (size > BODY_LIMIT_BYTES) {
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

/** The endpoint's path, with or without a query string (which is never looked at). */
function isUrlOf(path: string, url: string | undefined): boolean {
  return url !== undefined && url.startsWith(path) && (url.length === path.length || url[path.length] === '?');
}

/** An OAuth error as this handler sends it: its body serialised once. */
export function serializedReply(error: OAuthErrorReply): Reply {
  return { status: error.status, body: JSON.stringify(error.body), headers: error.headers };
}

/** An error in the one error body, its status from the one mapping every route uses. */
export function appErrorReply(error: AppError): Reply {
  const { status, headers, body } = errorReply(error);
  return { status, headers, body: JSON.stringify(body) };
}

const PAYLOAD_TOO_LARGE = appErrorReply(new AppError('PAYLOAD_TOO_LARGE', 'Request body too large', { headers: { Connection: 'close' } }));
const INTERNAL = appErrorReply(new AppError('INTERNAL', 'Internal server error'));
const INVALID_CLIENT = serializedReply(invalidClient());
const UNAVAILABLE = serializedReply(temporarilyUnavailable());
