import Router from '@koa/router';
import { roleAtLeast } from '../../domain/accounts.ts';
import { actorOf } from '../../domain/principal.ts';
import type { AccountService } from '../../services/accounts/account-service.ts';
import type { ConnectedAppsService } from '../../services/oauth-apps/connected-apps-service.ts';
import { formBody } from '../middleware/form-body.ts';
import { html } from '../views/html.ts';
import { consoleErrors, consoleState, requireSession, type ConsoleDeps } from './console-session.ts';
import { confirmBody } from './views/api-key-pages.ts';
import { appListBody } from './views/connected-app-pages.ts';
import { sendConsolePage } from './views/console-page.ts';
import { noticeFromQuery } from './views/parts.ts';

export interface ConsoleAppDeps extends ConsoleDeps {
  apps: ConnectedAppsService;
  accounts: AccountService;
}

/**
 * Settings → Connected apps: the apps a person connected (owners and admins: every member's),
 * each revocable with a confirmation — on ConnectedAppsService, as /api/v1/connected-apps.
 */
export function consoleAppRoutes(deps: ConsoleAppDeps): Router {
  const router = new Router({ prefix: '/settings/connected-apps' });
  router.use(consoleErrors(deps.brand));
  const session = requireSession(deps);
  const form = formBody();

  router.get('/', session, async (ctx) => {
    const { principal, viewer } = consoleState(ctx);
    const canSeeAll = roleAtLeast(principal.role, 'admin');
    const all = canSeeAll && ctx.query.all === 'true';
    const apps = await deps.apps.list(actorOf(principal), all);
    const emails = all ? new Map((await deps.accounts.membersOf(principal.orgId)).map((m) => [m.user.id, m.user.email])) : new Map<string, string>();
    const orgName = viewer.organizations.find((o) => o.id === principal.orgId)?.name ?? principal.orgId;
    sendConsolePage(ctx, deps.brand, { title: 'Connected apps', viewer, section: 'connected-apps', body: appListBody({ apps, orgName, canSeeAll, all, emails, notice: noticeFromQuery(ctx.query.notice) }) });
  });

  router.get('/:id/revoke', session, async (ctx) => {
    const { principal, viewer } = consoleState(ctx);
    const { app, client } = await deps.apps.get(actorOf(principal), ctx.params.id!);
    sendConsolePage(ctx, deps.brand, {
      title: `Revoke ${client.name}`,
      viewer,
      section: 'connected-apps',
      body: confirmBody({
        title: `Revoke ${client.name}?`,
        text: html`${client.name} will lose access at once: its tokens stop working, and it must be connected again to be used.`,
        action: `/settings/connected-apps/${app.id}/revoke`,
        csrf: viewer.csrf,
        button: `Revoke ${client.name}`,
        back: '/settings/connected-apps',
      }),
    });
  });

  router.post('/:id/revoke', form, session, async (ctx) => {
    await deps.apps.revoke(actorOf(consoleState(ctx).principal), ctx.params.id!);
    ctx.status = 303;
    ctx.redirect('/settings/connected-apps?notice=app-revoked');
  });

  return router;
}
