import Router from '@koa/router';
import type { Middleware } from 'koa';
import type { Principal } from '../../domain/principal.ts';
import type { MeField } from '../../domain/profile.ts';
import { presentMe } from '../presenters.ts';

/**
 * "Who am I?" — confirms credentials at start-up or after rotating keys. It shows the fields the
 * profile names (Minds' document, say, shows only `{"id"}`).
 */
export function meRoutes(authenticated: Middleware, fields: readonly MeField[]): Router {
  const router = new Router({ prefix: '/api/v1' });
  const me: Middleware = (ctx) => {
    const all = presentMe(ctx.state.principal as Principal);
    ctx.body = Object.fromEntries(fields.filter((f) => f in all).map((f) => [f, all[f]]));
  };
  router.get('/me', authenticated, me);
  router.get('/auth/me', authenticated, me);
  return router;
}
