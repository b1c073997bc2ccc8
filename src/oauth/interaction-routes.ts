import Router from '@koa/router';
import type { Interactions } from './interactions.ts';
import { formBody } from '../http/middleware/form-body.ts';

/** Sign-in and consent pages of the authorization flow (they live in the parent app). */
export function interactionRoutes(interactions: Interactions): Router {
  const router = new Router({ prefix: '/interaction/:uid' });
  const form = formBody();
  router.get('/', (ctx) => interactions.show(ctx));
  router.post('/login', form, (ctx) => interactions.login(ctx, ctx.state.form as URLSearchParams));
  router.post('/confirm', form, (ctx) => interactions.confirm(ctx, ctx.state.form as URLSearchParams));
  router.post('/abort', form, (ctx) => interactions.abort(ctx, ctx.state.form as URLSearchParams));
  return router;
}
