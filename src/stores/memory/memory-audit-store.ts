import type { AuditEvent } from '../../domain/audit.ts';
import { ConflictError } from '../../errors/index.ts';
import type { AuditCursor, AuditFilter, AuditStore } from '../../ports.ts';

export class MemoryAuditStore implements AuditStore {
  private readonly byId = new Map<string, AuditEvent>();

  async insert(event: AuditEvent): Promise<void> {
    if (this.byId.has(event.id)) throw new ConflictError('An audit event with this id already exists', 'id');
    this.byId.set(event.id, structuredClone(event));
  }

  async list(orgId: string, page: { limit: number; before?: AuditCursor }, filter: AuditFilter = {}): Promise<AuditEvent[]> {
    const { before } = page;
    const matches = (e: AuditEvent) =>
      (filter.actorUserId === undefined || e.actorUserId === filter.actorUserId) &&
      (filter.credentialKind === undefined || e.credential.kind === filter.credentialKind) &&
      (filter.action === undefined || e.action === filter.action) &&
      (filter.targetId === undefined || e.targetId === filter.targetId);
    return [...this.byId.values()]
      .filter((e) => e.orgId === orgId && matches(e) && (before === undefined || compareNewestFirst(e, before) > 0))
      .sort(compareNewestFirst)
      .slice(0, Math.max(0, page.limit))
      .map((e) => structuredClone(e));
  }
}

/**
 * Negative when `a` comes first (is newer): at descending, then id descending by code unit, the
 * order MongoDB gives for strings. A cursor compares the same way, so pages never overlap or skip.
 */
function compareNewestFirst(a: { at: Date; id: string }, b: { at: Date; id: string }): number {
  return b.at.getTime() - a.at.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}
