import type { Middleware } from 'koa';
import type { Logger } from '../../logger.ts';

/**
 * One structured line per request. Only the path is logged — never the query string (a client
 * may put a token there), headers or bodies.
 */
export function requestLogger(logger: Logger): Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const fields = {
        requestId: ctx.state.requestId as string | undefined,
        method: ctx.method,
        path: ctx.path,
        status: ctx.status,
        ms: Math.round(ms * 100) / 100,
        ip: ctx.ip,
      };
      if (ctx.status >= 500) logger.error(fields, 'request failed');
      // Health probes arrive every few seconds from orchestrators: keep them out of info logs.
      else if (ctx.path.startsWith('/health/')) logger.debug(fields, 'request');
      else logger.info(fields, 'request');
    }
  };
}
