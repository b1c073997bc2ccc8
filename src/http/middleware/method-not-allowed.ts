import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { AppError } from '../../errors/index.ts';

/**
 * 405 with an Allow header when the path exists under another method (RFC 9110 §15.5.6);
 * unknown paths fall through to the 404 of the error handler.
 */
export function methodNotAllowed(router: Router): Middleware {
  return async (ctx, next) => {
    await next();
    if (ctx.status !== 404 || ctx.body !== undefined) return;
    const matched = router.match(ctx.path, ctx.method);
    if (matched.path.length === 0 || matched.pathAndMethod.some((layer) => layer.methods.length > 0)) return;
    const allowed = new Set(matched.path.flatMap((layer) => layer.methods));
    if (allowed.size === 0) return;
    if (allowed.has('GET')) allowed.add('HEAD');
    throw new AppError('METHOD_NOT_ALLOWED', `Method ${ctx.method} is not allowed here`, {
      headers: { Allow: [...allowed].sort().join(', ') },
    });
  };
}
