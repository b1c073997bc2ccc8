import Router from '@koa/router';
import type { Middleware } from 'koa';
import type { Principal } from '../../domain/principal.ts';
import { presentMe } from '../presenters.ts';

/** "Who am I?" — confirms credentials at start-up or after rotating keys. */
export function meRoutes(authenticated: Middleware): Router {
  const router = new Router({ prefix: '/api/v1' });
  const me: Middleware = (ctx) => {
    ctx.body = presentMe(ctx.state.principal as Principal);
  };
  router.get('/me', authenticated, me);
  router.get('/auth/me', authenticated, me);
  return router;
}
