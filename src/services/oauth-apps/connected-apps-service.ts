import { roleAtLeast } from '../../domain/accounts.ts';
import { NO_LIMITS, type CredentialLimits } from '../../domain/limits.ts';
import type { ConnectedApp, OAuthClient } from '../../domain/oauth.ts';
import { requireScope } from '../../domain/permissions.ts';
import type { Actor } from '../../domain/principal.ts';
import { ForbiddenError, NotFoundError } from '../../errors/index.ts';
import type { ClientStore, Clock, ConnectedAppStore, DailyUsage, MeteredCredential, OAuthModelStore } from '../../ports.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { BearerEvents } from '../revocation/bearer-events.ts';
import type { RevocationMarkers } from '../revocation/revocation-markers.ts';

export interface ConnectedAppView {
  app: ConnectedApp;
  client: Pick<OAuthClient, 'id' | 'name'>;
}

export interface ConsentRecord {
  grantId: string;
  userId: string;
  orgId: string;
  clientId: string;
  scopes: string[];
}

export interface ConnectedAppsDeps {
  /** A credential's daily usage (services/limits/usage-series.ts). */
  series: (credential: MeteredCredential, range: { from?: string; to?: string }) => Promise<DailyUsage[]>;
  markers: RevocationMarkers;
  connectedApps: ConnectedAppStore;
  clients: ClientStore;
  oauth: OAuthModelStore;
  events: BearerEvents;
  audit: AuditLog;
  clock: Clock;
}

/**
 * Settings → Connected apps: the OAuth grants users gave connectors, each bound to the
 * organization chosen at consent. Revoking one refuses every access and refresh token of the
 * grant at once: the store of record first (tokens deleted, app marked revoked), then Redis.
 */
export class ConnectedAppsService {
  private readonly deps: ConnectedAppsDeps;
  private readonly revoking = new Map<string, Promise<void>>();

  constructor(deps: ConnectedAppsDeps) {
    this.deps = deps;
  }

  /** Called when a user consents: the grant becomes a connected app bound to `orgId`. */
  async recordConsent(consent: ConsentRecord, actor: Actor): Promise<ConnectedApp> {
    const app = await this.deps.connectedApps.upsert({
      id: consent.grantId,
      userId: consent.userId,
      orgId: consent.orgId,
      clientId: consent.clientId,
      scopes: consent.scopes,
      limits: NO_LIMITS,
      createdAt: this.deps.clock.now(),
      lastUsedAt: null,
      revokedAt: null,
    });
    await this.deps.audit.record(actor, consent.orgId, 'connected_app.created', consent.grantId, { clientId: consent.clientId, scopes: consent.scopes });
    return app;
  }

  /** The caller's connected apps; with `everyone`, owners and admins see every member's. */
  async list(actor: Actor, everyone: boolean): Promise<ConnectedAppView[]> {
    requireScope(actor, 'apps:read');
    const apps =
      everyone && roleAtLeast(actor.role, 'admin')
        ? await this.deps.connectedApps.listForOrg(actor.orgId)
        : await this.deps.connectedApps.listForUser(actor.userId, actor.orgId);
    const clients = new Map<string, OAuthClient | null>();
    for (const app of apps) {
      if (!clients.has(app.clientId)) clients.set(app.clientId, await this.deps.clients.findById(app.clientId));
    }
    return apps.map((app) => ({ app, client: { id: app.clientId, name: clients.get(app.clientId)?.name ?? app.clientId } }));
  }

  /** One connected app the actor may see (its own, or any of the organization's for owners and admins), with its client's name. */
  async get(actor: Actor, id: string): Promise<ConnectedAppView> {
    requireScope(actor, 'apps:read');
    const app = await this.visible(actor, id);
    const client = await this.deps.clients.findById(app.clientId);
    return { app, client: { id: app.clientId, name: client?.name ?? app.clientId } };
  }

  /** The app's requests and credits per UTC day. */
  async usage(actor: Actor, id: string, range: { from?: string; to?: string }): Promise<DailyUsage[]> {
    requireScope(actor, 'apps:read');
    await this.visible(actor, id);
    return this.deps.series({ kind: 'oauth', id }, range);
  }

  /**
   * Sets a connected app's own limits (null fields: its plan's), as owners and admins may for any
   * member's app of their organization. Every instance drops its cached principals of the grant.
   */
  async setLimits(actor: Actor, id: string, limits: Partial<CredentialLimits>): Promise<ConnectedApp> {
    requireScope(actor, 'apps:write');
    if (!roleAtLeast(actor.role, 'admin')) throw new ForbiddenError('Only owners and admins can set a connected app’s limits');
    const app = await this.visible(actor, id);
    const updated = await this.deps.connectedApps.setLimits(id, { ...app.limits, ...limits });
    if (!updated) throw new NotFoundError('Connected app');
    await this.deps.events.publish({ kind: 'grant', id });
    await this.deps.audit.record(actor, actor.orgId, 'connected_app.updated', id, { fields: ['limits'] });
    return updated;
  }

  async revoke(actor: Actor, id: string): Promise<void> {
    requireScope(actor, 'apps:write');
    const app = await this.visible(actor, id);
    await this.revokeGrant(id);
    await this.deps.audit.record(actor, actor.orgId, 'connected_app.revoked', id, { clientId: app.clientId });
  }

  /** A live connected app of the actor's organization: the actor's own, or any for owners and admins; else 404. */
  private async visible(actor: Actor, id: string): Promise<ConnectedApp> {
    const app = await this.deps.connectedApps.findById(id);
    const visible = app && app.revokedAt === null && app.orgId === actor.orgId && (app.userId === actor.userId || roleAtLeast(actor.role, 'admin'));
    if (!visible) throw new NotFoundError('Connected app');
    return app;
  }

  /**
   * Ends a grant everywhere: every token and code of it is deleted from the store of record, the
   * app is marked revoked (what authentication checks), and caches are told. Also used when the
   * authorization server itself revokes a grant (refresh token reuse, /oauth/revoke).
   */
  async revokeGrant(grantId: string): Promise<void> {
    // oidc-provider ends a grant once per token model, in parallel: do the work once.
    const running = this.revoking.get(grantId);
    if (running) return running;
    const work = this.endGrant(grantId).finally(() => this.revoking.delete(grantId));
    this.revoking.set(grantId, work);
    return work;
  }

  private async endGrant(grantId: string): Promise<void> {
    await this.deps.connectedApps.revoke(grantId, this.deps.clock.now());
    // The grant and every record of it (OAuthModelStore.destroy).
    await this.deps.oauth.destroy('Grant', grantId);
    await this.deps.markers.markGrant(grantId);
    await this.deps.events.publish({ kind: 'grant', id: grantId, final: true });
  }
}
