import type { Middleware } from 'koa';

/**
 * Headers for every API response: they carry identity data, so no cache may keep them, and no
 * browser may sniff them into something executable.
 */
export function securityHeaders(): Middleware {
  return async (ctx, next) => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Referrer-Policy', 'no-referrer');
    await next();
  };
}
