import Router from '@koa/router';
import type { Middleware } from 'koa';
import { z } from 'zod';
import { actorOf, type Principal } from '../../domain/principal.ts';
import type { ConnectedAppsService } from '../../services/oauth-apps/connected-apps-service.ts';
import { jsonBody } from '../middleware/json-body.ts';
import { presentUsage } from '../presenters.ts';
import { limitsBody, limitsInput, presentLimits, usageQuery } from '../schemas/limits-schemas.ts';
import { validate } from '../validate.ts';

const listQuery = z.object({ all: z.enum(['true', 'false']).optional() }).strict();
const updateBody = z.object({ limits: limitsBody }).strict();

/** Settings → Connected apps: the grants users gave connectors, and revoking them. */
export function connectedAppRoutes(apps: ConnectedAppsService, authenticated: Middleware, bodyLimitBytes: number): Router {
  const router = new Router({ prefix: '/api/v1/connected-apps' });
  const body = jsonBody({ limitBytes: bodyLimitBytes });
  router.use(authenticated);

  // ?all=true: owners and admins see every member's connected apps in their organization.
  router.get('/', async (ctx) => {
    const query = validate(listQuery, ctx.query, 'query');
    const views = await apps.list(actorOf(ctx.state.principal as Principal), query.all === 'true');
    ctx.body = views.map(({ app, client }) => ({
      id: app.id,
      client: { id: client.id, name: client.name },
      user_id: app.userId,
      org_id: app.orgId,
      scopes: app.scopes,
      limits: presentLimits(app.limits),
      createdAt: app.createdAt.toISOString(),
      lastUsedAt: app.lastUsedAt?.toISOString() ?? null,
    }));
  });

  router.get('/:id/usage', async (ctx) => {
    const query = validate(usageQuery, ctx.query, 'query');
    ctx.body = presentUsage(await apps.usage(actorOf(ctx.state.principal as Principal), ctx.params.id!, query));
  });

  // Owners and admins set a connected app's own limits (null: its plan's).
  router.patch('/:id', body, async (ctx) => {
    const input = validate(updateBody, ctx.state.body ?? {});
    const app = await apps.setLimits(actorOf(ctx.state.principal as Principal), ctx.params.id!, limitsInput(input.limits) ?? {});
    ctx.body = { id: app.id, limits: presentLimits(app.limits) };
  });

  router.delete('/:id', async (ctx) => {
    await apps.revoke(actorOf(ctx.state.principal as Principal), ctx.params.id!);
    ctx.status = 204;
  });

  return router;
}
