import Router from '@koa/router';
import type { Context } from 'koa';
import type { KeyEnv, KeyFormat } from '../../domain/api-key-format.ts';
import type { CredentialLimits } from '../../domain/limits.ts';
import { actorOf } from '../../domain/principal.ts';
import { isAppError } from '../../errors/index.ts';
import type { Clock } from '../../ports.ts';
import type { AccountService } from '../../services/accounts/account-service.ts';
import type { ApiKeyService, CreateKeyInput } from '../../services/keys/api-key-service.ts';
import { formBody } from '../middleware/form-body.ts';
import { limitsBody, limitsInput } from '../schemas/limits-schemas.ts';
import { validate } from '../validate.ts';
import { html } from '../views/html.ts';
import { consoleErrors, consoleState, requireSession, type ConsoleDeps } from './console-session.ts';
import { confirmBody, issuedKeyBody, keyDetailBody, keyListBody, newKeyBody, type KeyFormView } from './views/api-key-pages.ts';
import { sendConsolePage } from './views/console-page.ts';
import { noticeFromQuery } from './views/parts.ts';

export interface ConsoleKeyDeps extends ConsoleDeps {
  keys: ApiKeyService;
  accounts: AccountService;
  format: KeyFormat;
  clock: Clock;
}

/**
 * A form's limits, checked by the API's own schema (the same field names and rules): a number
 * each, or — left empty — absent when a key is made, and the plan's (null) when one is edited.
 */
function formLimits(form: URLSearchParams, empty: 'absent' | 'plan'): Partial<CredentialLimits> | undefined {
  const body: Record<string, number | null> = {};
  for (const field of Object.keys(limitsBody.shape)) {
    const raw = (form.get(field) ?? '').trim();
    if (raw !== '') body[field] = /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN;
    else if (empty === 'plan') body[field] = null;
  }
  return limitsInput(validate(limitsBody, body));
}

/** 'YYYY-MM-DD' → 00:00 UTC of that day; '' → no expiry. */
function expiryOf(raw: string): Date | null {
  if (raw.trim() === '') return null;
  return /^\d{4}-\d{2}-\d{2}$/.test(raw) ? new Date(`${raw}T00:00:00Z`) : new Date(NaN);
}

/**
 * Settings → API keys: the list, creating a key (shown once), a key's page (usage, history,
 * edit, disable/enable, rotate), deleting with a confirmation — on ApiKeyService, the same
 * service and rules as /api/v1/api-keys.
 */
export function consoleKeyRoutes(deps: ConsoleKeyDeps): Router {
  const router = new Router({ prefix: '/settings/api-keys' });
  const form = formBody();
  router.use(consoleErrors(deps.brand));
  const session = requireSession(deps);
  const envs = (Object.keys(deps.format.prefixes) as KeyEnv[]).filter((env) => deps.format.prefixes[env] !== null);
  const emailsOf = async (orgId: string): Promise<Map<string, string>> => new Map((await deps.accounts.membersOf(orgId)).map((m) => [m.user.id, m.user.email]));

  const newKeyPage = (ctx: Context, status: number, view: Omit<KeyFormView, 'csrf' | 'grantable' | 'envs' | 'labels'>): void => {
    const { principal, viewer } = consoleState(ctx);
    sendConsolePage(ctx, deps.brand, {
      title: 'Create an API key',
      status,
      viewer,
      section: 'api-keys',
      body: newKeyBody({ csrf: viewer.csrf, grantable: deps.keys.grantable(actorOf(principal)), envs, labels: deps.brand.labels, ...view }),
    });
  };

  const detailPage = async (ctx: Context, id: string, status = 200, error?: string): Promise<void> => {
    const { principal, viewer } = consoleState(ctx);
    const actor = actorOf(principal);
    const key = await deps.keys.get(actor, id);
    const [usage, history, emails] = await Promise.all([deps.keys.usage(actor, id, {}), deps.keys.history(actor, id), emailsOf(principal.orgId)]);
    const may = deps.keys.permissions(actor, key);
    sendConsolePage(ctx, deps.brand, {
      title: key.name ?? 'API key',
      status,
      viewer,
      section: 'api-keys',
      body: keyDetailBody({
        key,
        now: deps.clock.now(),
        csrf: viewer.csrf,
        memberEmail: emails.get(key.userId) ?? null,
        grantable: deps.keys.grantable(actor),
        canEdit: may.manage,
        canRotate: may.rotate,
        usage,
        history,
        emails,
        notice: noticeFromQuery(ctx.query.notice),
        labels: deps.brand.labels,
        ...(error ? { error } : {}),
      }),
    });
  };

  const done = (ctx: Context, path: string, notice: string): void => {
    ctx.status = 303;
    ctx.redirect(`${path}?notice=${notice}`);
  };

  router.get('/', session, async (ctx) => {
    const { principal, viewer } = consoleState(ctx);
    const actor = actorOf(principal);
    const keys = await deps.keys.list(actor);
    const admin = principal.role === 'owner' || principal.role === 'admin';
    sendConsolePage(ctx, deps.brand, {
      title: 'API keys',
      viewer,
      section: 'api-keys',
      body: keyListBody({ keys, now: deps.clock.now(), members: admin ? await emailsOf(principal.orgId) : null, canCreate: deps.keys.permissions(actor).create, notice: noticeFromQuery(ctx.query.notice), labels: deps.brand.labels }),
    });
  });

  router.get('/new', session, (ctx) => {
    const { principal } = consoleState(ctx);
    if (!deps.keys.permissions(actorOf(principal)).create) {
      sendConsolePage(ctx, deps.brand, { title: 'Not allowed', status: 403, viewer: consoleState(ctx).viewer, body: html`<h1>You cannot create API keys</h1><p>Your role in this organization does not allow it.</p>` });
      return;
    }
    newKeyPage(ctx, 200, { checked: deps.keys.suggestedScopes(actorOf(principal)), values: {} });
  });

  router.post('/', form, session, async (ctx) => {
    const fields = ctx.state.form as URLSearchParams;
    const { principal, viewer } = consoleState(ctx);
    const values = {
      name: fields.get('name') ?? '',
      env: fields.get('env') ?? 'live',
      expires: fields.get('expires') ?? '',
      perMinute: fields.get('rate_limit_per_minute') ?? '',
      perDay: fields.get('rate_limit_per_day') ?? '',
      spendCap: fields.get('daily_spend_cap') ?? '',
    };
    const actor = actorOf(principal);
    // Nothing ticked: the profile's default scopes for a new key, where it names them.
    const ticked = fields.getAll('scopes');
    try {
      const input: CreateKeyInput = {
        name: values.name,
        scopes: ticked.length > 0 ? ticked : deps.keys.suggestedScopes(actor),
        env: values.env as KeyEnv,
        expiresAt: expiryOf(values.expires),
        limits: formLimits(fields, 'absent') ?? {},
      };
      const issued = await deps.keys.create(actor, input);
      sendConsolePage(ctx, deps.brand, { title: 'Your API key', status: 201, viewer, section: 'api-keys', body: issuedKeyBody(issued.record, issued.secret, false, deps.brand) });
    } catch (error) {
      if (!isAppError(error) || error.code !== 'VALIDATION_FAILED') throw error;
      newKeyPage(ctx, 400, { checked: fields.getAll('scopes'), values, error: error.message });
    }
  });

  router.get('/:id', session, async (ctx) => {
    await detailPage(ctx, ctx.params.id!);
  });

  router.post('/:id', form, session, async (ctx) => {
    const fields = ctx.state.form as URLSearchParams;
    try {
      await deps.keys.update(actorOf(consoleState(ctx).principal), ctx.params.id!, {
        name: fields.get('name') ?? '',
        scopes: fields.getAll('scopes'),
        ...(fields.has('rate_limit_per_minute') ? { limits: formLimits(fields, 'plan') } : {}),
      });
    } catch (error) {
      if (!isAppError(error) || error.code !== 'VALIDATION_FAILED') throw error;
      return detailPage(ctx, ctx.params.id!, 400, error.message);
    }
    done(ctx, `/settings/api-keys/${ctx.params.id!}`, 'key-updated');
  });

  for (const [action, active] of [
    ['disable', false],
    ['enable', true],
  ] as const) {
    router.post(`/:id/${action}`, form, session, async (ctx) => {
      await deps.keys.update(actorOf(consoleState(ctx).principal), ctx.params.id!, { active });
      done(ctx, `/settings/api-keys/${ctx.params.id!}`, active ? 'key-enabled' : 'key-disabled');
    });
  }

  router.post('/:id/rotate', form, session, async (ctx) => {
    const grace = Number((ctx.state.form as URLSearchParams).get('grace_period_seconds') ?? '0');
    const { principal, viewer } = consoleState(ctx);
    const issued = await deps.keys.rotate(actorOf(principal), ctx.params.id!, Number.isInteger(grace) ? grace : NaN);
    sendConsolePage(ctx, deps.brand, { title: 'Your new key', status: 201, viewer, section: 'api-keys', body: issuedKeyBody(issued.record, issued.secret, true, deps.brand) });
  });

  router.get('/:id/delete', session, async (ctx) => {
    const { principal, viewer } = consoleState(ctx);
    const key = await deps.keys.get(actorOf(principal), ctx.params.id!);
    const verb = deps.brand.labels.revokeKey;
    sendConsolePage(ctx, deps.brand, {
      title: `${verb} API key`,
      viewer,
      section: 'api-keys',
      body: confirmBody({
        title: `${verb} “${key.name ?? 'Unnamed key'}”?`,
        text: html`Every request with the key <code>${key.start ?? key.id}…</code> will be refused at once, and it cannot be restored.`,
        action: `/settings/api-keys/${key.id}/delete`,
        csrf: viewer.csrf,
        button: `${verb} key`,
        back: `/settings/api-keys/${key.id}`,
      }),
    });
  });

  router.post('/:id/delete', form, session, async (ctx) => {
    await deps.keys.revoke(actorOf(consoleState(ctx).principal), ctx.params.id!);
    done(ctx, '/settings/api-keys', 'key-deleted');
  });

  return router;
}
