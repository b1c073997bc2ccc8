/**
 * The pages a user sees while connecting an app: sign-in, then consent with the choice of
 * organization. The interaction is bound to oidc-provider's interaction cookie (SameSite=Lax,
 * so a cross-site form post carries none) and every form carries a CSRF token derived from the
 * interaction id and the server's cookie key.
 */
import { csrfMatches, csrfToken } from '../http/csrf.ts';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import { describeScope } from '../domain/scope-words.ts';
import type { Role } from '../domain/accounts.ts';
import type { ScopeCatalog } from '../domain/scopes.ts';
import type { ClientStore } from '../ports.ts';
import type { AccountService } from '../services/accounts/account-service.ts';
import type { ConnectedAppsService } from '../services/oauth-apps/connected-apps-service.ts';
import type { PasswordSignIn } from '../services/accounts/password-sign-in.ts';
import { apiResource } from './provider.ts';
import { renderConsentPage } from './views/consent-page.ts';
import { renderErrorPage } from './views/error-page.ts';
import { renderLoginPage } from './views/login-page.ts';

export interface InteractionDeps {
  provider: Provider;
  issuer: string;
  accounts: AccountService;
  connectedApps: ConnectedAppsService;
  clients: ClientStore;
  catalog: ScopeCatalog;
  signIn: PasswordSignIn;
  csrfKey: string;
}

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

interface Requested {
  oidcScopes: string[];
  claims: string[];
  /** Per resource indicator: the scopes asked for that the client is registered for. */
  resourceScopes: Record<string, string[]>;
}

/**
 * What the provider is asking consent for (its consent prompt's details): the OpenID Connect
 * scopes and claims, and per resource the requested scopes the client may have at all — which
 * getResourceServerInfo bounds by the client's registration.
 */
function requestedOf(details: Details): Requested {
  const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
  return {
    oidcScopes: missing.missingOIDCScope ?? [],
    claims: missing.missingOIDCClaims ?? [],
    resourceScopes: Object.fromEntries(Object.entries(missing.missingResourceScopes ?? {}).map(([resource, scopes]) => [resource, [...scopes].sort()])),
  };
}

export class Interactions {
  private readonly deps: InteractionDeps;

  constructor(deps: InteractionDeps) {
    this.deps = deps;
  }

  async show(ctx: Context): Promise<void> {
    const details = await this.details(ctx);
    if (!details) return;
    if (details.prompt.name === 'login') return this.loginPage(ctx, details);
    return this.consentPage(ctx, details);
  }

  async login(ctx: Context, form: URLSearchParams): Promise<void> {
    const details = await this.details(ctx, form);
    if (!details) return;
    if (details.prompt.name !== 'login') return this.show(ctx);
    const email = form.get('email') ?? '';
    const outcome = await this.deps.signIn.signIn(email, form.get('password') ?? '', ctx.ip);
    if (outcome.kind === 'throttled') return this.tooManyAttempts(ctx, details, email, outcome.retryAfterSeconds);
    if (outcome.kind === 'wrong-credentials') return this.loginPage(ctx, details, { email, status: 401, error: 'Wrong email or password.' });
    await this.finish(ctx, { login: { accountId: outcome.user.id } });
  }

  async confirm(ctx: Context, form: URLSearchParams): Promise<void> {
    const details = await this.details(ctx, form);
    if (!details) return;
    const accountId = details.session?.accountId;
    if (details.prompt.name !== 'consent' || !accountId) return this.show(ctx);
    const orgId = form.get('org_id') ?? '';
    const orgs = await this.deps.accounts.organizationsOf(accountId);
    const chosen = orgs.find((o) => o.organization.id === orgId && !o.organization.disabled);
    if (!chosen) return this.consentPage(ctx, details, 'Choose one of your organizations.');

    const requested = requestedOf(details);
    const { provider } = this.deps;
    const clientId = details.params.client_id as string;
    const grant = new provider.Grant({ accountId, clientId });
    if (requested.oidcScopes.length > 0) grant.addOIDCScope(requested.oidcScopes.join(' '));
    if (requested.claims.length > 0) grant.addOIDCClaims(requested.claims);
    // RFC 6749 §3.3: the server may grant fewer scopes than asked, never more than the role
    // allows. What is left out is rejected, so that the provider asks for it no more and issues
    // the code for the rest; the token response then names the granted scope.
    let granted: string[] = [];
    for (const [resource, scopes] of Object.entries(requested.resourceScopes)) {
      const decision = this.decide(scopes, chosen.role);
      if (decision.granted.length > 0) grant.addResourceScope(resource, decision.granted.join(' '));
      if (decision.refused.length > 0) grant.rejectResourceScope(resource, decision.refused.join(' '));
      if (resource === apiResource(this.deps.issuer)) granted = decision.granted;
    }
    const grantId = await grant.save();
    await this.deps.connectedApps.recordConsent(
      { grantId, userId: accountId, orgId: chosen.organization.id, clientId, scopes: granted },
      { userId: accountId, orgId: chosen.organization.id, role: chosen.role, scopes: [], credential: { kind: 'oauth', clientId, grantId } },
    );
    await this.finish(ctx, { consent: { grantId } });
  }

  async abort(ctx: Context, form: URLSearchParams): Promise<void> {
    const details = await this.details(ctx, form);
    if (!details) return;
    await this.finish(ctx, { error: 'access_denied', error_description: 'The user denied access' });
  }

  /** The interaction of this request, checked against its cookie and (for forms) the CSRF token. */
  private async details(ctx: Context, form?: URLSearchParams): Promise<Details | null> {
    let details: Details;
    try {
      details = await this.deps.provider.interactionDetails(ctx.req, ctx.res);
    } catch {
      ctx.status = 400;
      renderErrorPage(ctx, 'invalid_request', 'This sign-in link has expired or was opened in another browser. Start connecting again from the app.');
      return null;
    }
    if (details.uid !== ctx.params.uid || (form && !this.csrfMatches(details.uid, form.get('csrf')))) {
      ctx.status = 403;
      renderErrorPage(ctx, 'invalid_request', 'This form is not valid for this sign-in. Start connecting again from the app.');
      return null;
    }
    return details;
  }

  /** 429 with Retry-After: this address, or this account, must wait (RFC 6585 §4). */
  private async tooManyAttempts(ctx: Context, details: Details, email: string, seconds: number): Promise<void> {
    await this.loginPage(ctx, details, { email, status: 429, error: `Too many attempts. Try again in ${seconds} second${seconds === 1 ? '' : 's'}.` });
    ctx.set('Retry-After', String(seconds));
  }

  private async loginPage(ctx: Context, details: Details, extra: { email?: string; error?: string; status?: number } = {}): Promise<void> {
    renderLoginPage(ctx, { uid: details.uid, csrf: this.csrf(details.uid), clientName: await this.clientName(details), ...extra });
  }

  private async consentPage(ctx: Context, details: Details, error?: string): Promise<void> {
    const accountId = details.session?.accountId;
    const user = accountId ? await this.deps.accounts.findUser(accountId) : null;
    if (!accountId || !user) return this.loginPage(ctx, details);
    const orgs = (await this.deps.accounts.organizationsOf(accountId)).filter((o) => !o.organization.disabled);
    if (orgs.length === 0) {
      ctx.status = 403;
      return renderErrorPage(ctx, 'access_denied', 'Your account belongs to no organization, so no app can be connected to it.');
    }
    const requested = requestedOf(details);
    const resourceScopes = requested.resourceScopes[apiResource(this.deps.issuer)] ?? [];
    const always = requested.oidcScopes.filter((s) => s !== 'openid').map(describeScope);
    renderConsentPage(ctx, {
      uid: details.uid,
      csrf: this.csrf(details.uid),
      clientName: await this.clientName(details),
      userEmail: user.email,
      organizations: orgs.map((o) => {
        const decision = this.decide(resourceScopes, o.role);
        return { id: o.organization.id, name: o.organization.name, role: o.role, granted: [...decision.granted.map(describeScope), ...always], refused: decision.refused.map(describeScope) };
      }),
      ...(error ? { error, status: 400 } : {}),
    });
  }

  /** Of the scopes asked for, those the role allows and those it does not. */
  private decide(scopes: readonly string[], role: Role): { granted: string[]; refused: string[] } {
    const allowed = new Set(this.deps.catalog.allowedFor(role));
    return { granted: scopes.filter((s) => allowed.has(s)), refused: scopes.filter((s) => !allowed.has(s)) };
  }

  private async clientName(details: Details): Promise<string> {
    const client = await this.deps.clients.findById(details.params.client_id as string);
    return client?.name ?? 'An application';
  }

  private async finish(ctx: Context, result: InteractionResults): Promise<void> {
    const returnTo = await this.deps.provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(returnTo);
  }

  private csrf(uid: string): string {
    return csrfToken(this.deps.csrfKey, `interaction:${uid}`);
  }

  private csrfMatches(uid: string, presented: string | null): boolean {
    return csrfMatches(this.deps.csrfKey, `interaction:${uid}`, presented);
  }
}
