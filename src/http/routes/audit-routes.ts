import Router from '@koa/router';
import type { Middleware } from 'koa';
import { actorOf, type Principal } from '../../domain/principal.ts';
import type { AuditLog } from '../../services/audit/audit-log.ts';
import { presentAuditEvent } from '../presenters.ts';
import { auditFilterOf, auditQuery } from '../schemas/audit-schemas.ts';
import { validate } from '../validate.ts';

/** The organization's audit trail, newest first, for owners and admins. */
export function auditRoutes(audit: AuditLog, authenticated: Middleware): Router {
  const router = new Router({ prefix: '/api/v1' });
  router.get('/audit-events', authenticated, async (ctx) => {
    const query = validate(auditQuery, ctx.query, 'query');
    const page = await audit.list(actorOf(ctx.state.principal as Principal), query.limit ?? 50, query.cursor, auditFilterOf(query));
    ctx.body = { data: page.events.map(presentAuditEvent), next_cursor: page.nextCursor };
  });
  return router;
}
