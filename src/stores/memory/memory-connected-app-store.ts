import type { ConnectedApp, ConnectedAppRecord } from '../../domain/oauth.ts';
import type { CredentialLimits } from '../../domain/limits.ts';
import type { ConnectedAppStore } from '../../ports.ts';

export class MemoryConnectedAppStore implements ConnectedAppStore {
  private readonly byId = new Map<string, ConnectedApp>();

  // No await between the read and the write in any method: in one process that makes each atomic.
  async upsert(app: ConnectedApp): Promise<ConnectedApp> {
    const existing = this.byId.get(app.id);
    if (!existing) {
      this.byId.set(app.id, structuredClone(app));
      return structuredClone(app);
    }
    // A revoked grant stays revoked: a new consent creates a new grant, never revives this one.
    if (existing.revokedAt === null) existing.scopes = [...app.scopes];
    return structuredClone(existing);
  }

  async setLimits(id: string, limits: CredentialLimits): Promise<ConnectedApp | null> {
    const app = this.byId.get(id);
    if (!app || app.revokedAt !== null) return null;
    app.limits = { ...limits };
    return structuredClone(app);
  }

  async findById(id: string): Promise<ConnectedApp | null> {
    const app = this.byId.get(id);
    return app ? structuredClone(app) : null;
  }

  async findRecord(id: string): Promise<ConnectedAppRecord | null> {
    const app = await this.findById(id);
    if (!app) return null;
    const { lastUsedAt: _lastUsed, ...record } = app;
    return record;
  }

  async listForUser(userId: string, orgId?: string): Promise<ConnectedApp[]> {
    return this.live((a) => a.userId === userId && (orgId === undefined || a.orgId === orgId));
  }

  async listForOrg(orgId: string): Promise<ConnectedApp[]> {
    return this.live((a) => a.orgId === orgId);
  }

  async revoke(id: string, at: Date): Promise<ConnectedApp | null> {
    const app = this.byId.get(id);
    if (!app || app.revokedAt !== null) return null;
    app.revokedAt = new Date(at);
    return structuredClone(app);
  }

  async touchLastUsed(id: string, at: Date): Promise<void> {
    const app = this.byId.get(id);
    if (!app) return;
    if (app.lastUsedAt === null || app.lastUsedAt.getTime() < at.getTime()) app.lastUsedAt = new Date(at);
  }

  private live(match: (app: ConnectedApp) => boolean): ConnectedApp[] {
    return [...this.byId.values()]
      .filter((a) => a.revokedAt === null && match(a))
      .sort(newestFirst)
      .map((a) => structuredClone(a));
  }
}

/** createdAt descending, then id descending by code unit: the order the MongoDB store gives. */
function newestFirst(a: ConnectedApp, b: ConnectedApp): number {
  return b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}
