/**
 * One call from a resource server to Tessera — introspection (RFC 7662) or verification,
 * authenticated, or the public profile document — with its failure modes mapped to one error:
 * Tessera unreachable, slow, answering 5xx/429, refusing the resource server's client
 * credentials, or answering something unreadable is a KitUnavailableError, which the middlewares
 * answer with 503 and Retry-After. Never a reason to let a request through.
 */

export type KitUnavailableReason = 'unreachable' | 'server_error' | 'client_rejected' | 'bad_answer';

/** Tessera could not answer. The message names no bearer and no secret. */
export class KitUnavailableError extends Error {
  readonly reason: KitUnavailableReason;
  readonly retryAfterSeconds: number;

  constructor(reason: KitUnavailableReason, message: string, options: { retryAfterSeconds?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KitUnavailableError';
    this.reason = reason;
    this.retryAfterSeconds = options.retryAfterSeconds ?? 1;
  }
}

export interface TesseraCall {
  endpoint: URL;
  authorization: string;
  timeoutMs: number;
  fetch: typeof fetch;
}

/** What every client of the kit is configured with. */
export interface TesseraClientOptions {
  /** Tessera's base URL (its issuer), e.g. `https://id.example.com`; a path prefix is kept. */
  url: string;
  /** A client of type `resource_server` registered in Tessera. */
  clientId: string;
  clientSecret: string;
  /** Per request to Tessera, body included (default 3000). */
  timeoutMs?: number;
  /** A fetch of your own (a proxy-aware one, a test double). */
  fetch?: typeof fetch;
}

export const DEFAULT_TIMEOUT_MS = 3_000;

export function checkMs(name: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isFinite(value) || value < 0 || value > max) throw new RangeError(`${name} must be between 0 and ${max} ms`);
  return value;
}

/** The endpoint `path` of Tessera at `url`; a URL already ending in `path` is used as it is. */
export function tesseraEndpoint(url: string, path: string): URL {
  const base = new URL(url);
  if (base.pathname.endsWith(`/${path}`)) return base;
  // Keep a path prefix (Tessera behind a reverse proxy at https://example.com/id/).
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  return new URL(path, base);
}

/** RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic encoding. */
function basicAuthorization(clientId: string, clientSecret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

export function tesseraCall(options: TesseraClientOptions, path: string): TesseraCall {
  if (!options.clientId || !options.clientSecret) throw new Error('clientId and clientSecret are required');
  return {
    endpoint: tesseraEndpoint(options.url, path),
    authorization: basicAuthorization(options.clientId, options.clientSecret),
    timeoutMs: checkMs('timeoutMs', options.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    fetch: options.fetch ?? fetch,
  };
}

function retryAfterOf(response: Response): number | undefined {
  const value = response.headers.get('retry-after');
  if (value === null || !/^\d+$/.test(value.trim())) return undefined;
  return Math.max(1, Number(value.trim()));
}

/** Why a fetch failed, in words that name no bearer: a timeout, or the socket error's code. */
function describeFailure(error: unknown, timeoutMs: number): string {
  // Duck-typed: fetch's errors may come from another realm than this module's Error.
  const { name, message, cause } = (error ?? {}) as { name?: unknown; message?: unknown; cause?: { code?: unknown } };
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  if (typeof cause?.code === 'string') return cause.code;
  return typeof message === 'string' ? message : 'unknown error';
}

/** Where a call goes, within what time, through which fetch. */
export type TesseraTarget = Pick<TesseraCall, 'endpoint' | 'timeoutMs' | 'fetch'>;

/**
 * One exchange with Tessera: its answer's status and text, or a KitUnavailableError when it
 * cannot be reached in time or answers 5xx/429 (it is failing or overloaded: ask again later).
 */
async function exchange(to: TesseraTarget, what: string, init: RequestInit): Promise<{ status: number; text: string }> {
  let response: Response;
  let text: string;
  try {
    response = await to.fetch(to.endpoint, { ...init, signal: AbortSignal.timeout(to.timeoutMs) });
    text = await response.text();
  } catch (error) {
    throw new KitUnavailableError('unreachable', `Tessera at ${to.endpoint.origin} cannot be reached: ${describeFailure(error, to.timeoutMs)}`, { cause: error });
  }
  const retryAfterSeconds = retryAfterOf(response);
  if (response.status >= 500 || response.status === 429) {
    throw new KitUnavailableError('server_error', `Tessera answered ${response.status} to ${what}`, retryAfterSeconds === undefined ? {} : { retryAfterSeconds });
  }
  return { status: response.status, text };
}

/** Reads a 200 answer as JSON, then through `read` (which throws on an answer without the fields of the contract). */
function readAnswer<T>(text: string, what: string, read: (answer: unknown) => T): T {
  try {
    return read(JSON.parse(text));
  } catch (error) {
    throw new KitUnavailableError('bad_answer', `Tessera's ${what} answer could not be read: ${(error as Error).message}`);
  }
}

/**
 * POSTs `body` and reads Tessera's 200 answer as JSON, then through `read` (which throws on an
 * answer without the fields of the contract). `what` names the call in errors.
 */
export async function postToTessera<T>(call: TesseraCall, what: string, body: { type: string; text: string }, read: (answer: unknown) => T): Promise<T> {
  const answer = await exchange(call, what, {
    method: 'POST',
    headers: { authorization: call.authorization, 'content-type': body.type, accept: 'application/json' },
    body: body.text,
  });
  if (answer.status !== 200) {
    // 401 invalid_client: this resource server's credentials are wrong, or its client is not a
    // resource_server. Nobody can be let in until that is fixed.
    throw new KitUnavailableError('client_rejected', `Tessera refused the ${what} request (${answer.status}): check the resource server's client id and secret`);
  }
  return readAnswer(answer.text, what, read);
}

/** GETs a public document of Tessera (no credentials sent) and reads its 200 answer as `postToTessera` does. */
export async function getFromTessera<T>(to: TesseraTarget, what: string, read: (answer: unknown) => T): Promise<T> {
  const answer = await exchange(to, what, { method: 'GET', headers: { accept: 'application/json' } });
  if (answer.status !== 200) throw new KitUnavailableError('bad_answer', `Tessera answered ${answer.status} to ${what} (${to.endpoint.pathname})`);
  return readAnswer(answer.text, what, read);
}
