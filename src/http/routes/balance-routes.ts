import Router from '@koa/router';
import type { Middleware } from 'koa';
import { z } from 'zod';
import { actorOf, type Principal } from '../../domain/principal.ts';
import { MAX_LIMIT } from '../../domain/limits.ts';
import type { BalanceService, BalanceView } from '../../services/limits/balance-service.ts';
import { jsonBody } from '../middleware/json-body.ts';
import { validate } from '../validate.ts';

const creditBody = z.object({ credits: z.number({ message: 'must be a whole number of credits' }).int('must be a whole number of credits').min(1, 'must be at least 1').max(MAX_LIMIT, `must be at most ${MAX_LIMIT}`) }).strict();

/** The organization's credit balance: read by members, credited by owners and admins. */
export function balanceRoutes(balances: BalanceService, authenticated: Middleware, bodyLimitBytes: number): Router {
  const router = new Router({ prefix: '/api/v1/balance' });
  router.use(authenticated);

  router.get('/', async (ctx) => {
    ctx.body = present(await balances.read(actorOf(ctx.state.principal as Principal)));
  });

  router.post('/credits', jsonBody({ limitBytes: bodyLimitBytes }), async (ctx) => {
    const input = validate(creditBody, ctx.state.body ?? {});
    ctx.body = present(await balances.credit(actorOf(ctx.state.principal as Principal), input.credits));
  });

  return router;
}

function present(view: BalanceView): Record<string, unknown> {
  return { org_id: view.orgId, credited: view.credited, spent: view.spent, available: view.available };
}
