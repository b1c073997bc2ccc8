import type { Middleware } from 'koa';
import { elapsedMs, type AccessLog } from '../../logger.ts';
import { abortStatus } from '../client-abort.ts';

/**
 * One access-log line per request. Only the path is logged — never the query string (a client
 * may put a token there), headers or bodies.
 */
export function requestLogger(access: AccessLog): Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const status = ctx.state.clientAborted === true ? abortStatus(ctx.req) : ctx.status;
      access({ requestId: ctx.state.requestId as string | undefined, method: ctx.method, path: ctx.path, status, ms: elapsedMs(started), ip: ctx.ip });
    }
  };
}
