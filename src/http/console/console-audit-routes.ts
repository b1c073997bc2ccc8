import Router from '@koa/router';
import { z } from 'zod';
import { actorOf } from '../../domain/principal.ts';
import type { AccountService } from '../../services/accounts/account-service.ts';
import type { AuditLog } from '../../services/audit/audit-log.ts';
import { auditFilterFields, auditFilterOf } from '../schemas/audit-schemas.ts';
import { validate } from '../validate.ts';
import { consoleErrors, consoleState, requireSession, type ConsoleDeps } from './console-session.ts';
import { auditLogBody } from './views/audit-log-page.ts';
import { sendConsolePage } from './views/console-page.ts';

const PAGE = 50;

/** An empty select ('') is no filter. */
const blankAsAbsent = (value: unknown) => (value === '' ? undefined : value);
const pageQuery = z
  .object({
    actor: z.preprocess(blankAsAbsent, auditFilterFields.actor),
    credential: z.preprocess(blankAsAbsent, auditFilterFields.credential),
    action: z.preprocess(blankAsAbsent, auditFilterFields.action),
    cursor: z.string().min(1).max(512).optional(),
  })
  .strict();

/** Settings → Audit log, for owners and admins: paged, filtered by who, with which credential, and what (AuditLog, as /api/v1/audit-events). */
export function consoleAuditRoutes(deps: ConsoleDeps & { audit: AuditLog; accounts: AccountService }): Router {
  const router = new Router({ prefix: '/settings/audit-log' });
  router.use(consoleErrors(deps.brand));
  router.get('/', requireSession(deps), async (ctx) => {
    const { principal, viewer } = consoleState(ctx);
    const query = validate(pageQuery, ctx.query, 'query');
    const page = await deps.audit.list(actorOf(principal), PAGE, query.cursor, auditFilterOf(query));
    const members = (await deps.accounts.membersOf(principal.orgId)).map((m) => ({ id: m.user.id, email: m.user.email }));
    const filter = { ...(query.actor ? { actor: query.actor } : {}), ...(query.credential ? { credential: query.credential } : {}), ...(query.action ? { action: query.action } : {}) };
    const next = page.nextCursor ? new URLSearchParams({ ...filter, cursor: page.nextCursor }).toString() : null;
    sendConsolePage(ctx, deps.brand, { title: 'Audit log', viewer, section: 'audit-log', body: auditLogBody({ events: page.events, members, filter, next }) });
  });
  return router;
}
