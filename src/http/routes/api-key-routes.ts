import Router from '@koa/router';
import type { Middleware } from 'koa';
import { actorOf, type Principal } from '../../domain/principal.ts';
import type { ApiKeyService } from '../../services/keys/api-key-service.ts';
import { jsonBody } from '../middleware/json-body.ts';
import { presentIssuedKey, presentKey, presentUsage } from '../presenters.ts';
import { createKeyBody, rotateKeyBody, updateKeyBody } from '../schemas/api-key-schemas.ts';
import { limitsInput, usageQuery } from '../schemas/limits-schemas.ts';
import { validate } from '../validate.ts';

/** Settings → API keys: GET/POST /api/v1/api-keys, GET/PATCH/DELETE /api/v1/api-keys/:id, POST …/rotate. */
export function apiKeyRoutes(keys: ApiKeyService, authenticated: Middleware, bodyLimitBytes: number): Router {
  const router = new Router({ prefix: '/api/v1/api-keys' });
  const body = jsonBody({ limitBytes: bodyLimitBytes });
  router.use(authenticated);

  router.get('/', async (ctx) => {
    ctx.body = (await keys.list(actor(ctx.state))).map(presentKey);
  });

  // An empty body, no body and {} all create an unnamed key with every scope the caller may grant.
  router.post('/', body, async (ctx) => {
    const input = validate(createKeyBody, ctx.state.body ?? {});
    const issued = await keys.create(actor(ctx.state), {
      name: input.name,
      scopes: input.scopes,
      env: input.env,
      expiresAt: input.expires_at,
      limits: limitsInput(input.limits),
    });
    ctx.status = 201;
    ctx.body = presentIssuedKey(issued.record, issued.secret);
  });

  router.get('/:id', async (ctx) => {
    ctx.body = presentKey(await keys.get(actor(ctx.state), ctx.params.id!));
  });

  router.get('/:id/usage', async (ctx) => {
    const query = validate(usageQuery, ctx.query, 'query');
    ctx.body = presentUsage(await keys.usage(actor(ctx.state), ctx.params.id!, query));
  });

  router.patch('/:id', body, async (ctx) => {
    const input = validate(updateKeyBody, ctx.state.body ?? {});
    const updated = await keys.update(actor(ctx.state), ctx.params.id!, {
      name: input.name,
      scopes: input.scopes,
      active: input.active,
      expiresAt: input.expires_at,
      limits: limitsInput(input.limits),
    });
    ctx.body = presentKey(updated);
  });

  router.delete('/:id', async (ctx) => {
    await keys.revoke(actor(ctx.state), ctx.params.id!);
    ctx.status = 204;
  });

  router.post('/:id/rotate', body, async (ctx) => {
    const input = validate(rotateKeyBody, ctx.state.body ?? {});
    const issued = await keys.rotate(actor(ctx.state), ctx.params.id!, input.grace_period_seconds ?? 0, input.expires_at ?? null);
    ctx.status = 201;
    ctx.body = presentIssuedKey(issued.record, issued.secret);
  });

  return router;
}

function actor(state: { principal?: Principal }) {
  return actorOf(state.principal!);
}
