import { randomBytes } from 'node:crypto';
import type { Middleware } from 'koa';

export const REQUEST_ID_HEADER = 'X-Request-Id';
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The request id of a request: the caller's own when it sent a well-formed one (so that a trace
 * spans services), otherwise a new one.
 */
export function requestIdFor(incoming: string | string[] | undefined): string {
  return typeof incoming === 'string' && SAFE_ID.test(incoming) ? incoming : mintRequestId();
}

/**
 * A new request id in the UUID layout (RFC 9562 §5.8, version 8: custom): 74 random bits drawn
 * once per process, then a 48-bit counter. Unique across instances and requests like a random
 * UUID, for a tenth of its cost on the introspection path; a request id is a correlation handle,
 * not a secret, so it need not be unpredictable.
 */
export const mintRequestId: () => string = (() => {
  const random = randomBytes(10);
  random[6] = (random[6]! & 0x0f) | 0x80; // version 8
  random[8] = (random[8]! & 0x3f) | 0x80; // variant 10
  const hex = random.toString('hex');
  const prefix = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-`;
  let counter = 0;
  return () => {
    counter = counter === 0xffffffffffff ? 0 : counter + 1;
    return prefix + counter.toString(16).padStart(12, '0');
  };
})();

/**
 * Every response carries a request id (see requestIdFor). Set before anything else runs, so that
 * error responses carry it too.
 */
export function requestId(): Middleware {
  return async (ctx, next) => {
    const id = requestIdFor(ctx.get(REQUEST_ID_HEADER));
    ctx.state.requestId = id;
    ctx.set(REQUEST_ID_HEADER, id);
    await next();
  };
}
