import type { SessionRecord } from '../../domain/session.ts';
import { ConflictError } from '../../errors/index.ts';
import type { SessionStore } from '../../ports.ts';

export class MemorySessionStore implements SessionStore {
  private readonly byId = new Map<string, SessionRecord>();

  async insert(session: SessionRecord): Promise<void> {
    if (this.byId.has(session.id)) throw new ConflictError('A session with this id already exists', 'id');
    this.byId.set(session.id, structuredClone(session));
  }

  async findById(id: string): Promise<SessionRecord | null> {
    const session = this.byId.get(id);
    return session ? structuredClone(session) : null;
  }

  async update(id: string, patch: Partial<Pick<SessionRecord, 'lastSeenAt' | 'orgId'>>): Promise<SessionRecord | null> {
    const session = this.byId.get(id);
    if (!session) return null;
    if (patch.lastSeenAt) session.lastSeenAt = new Date(patch.lastSeenAt);
    if (patch.orgId) session.orgId = patch.orgId;
    return structuredClone(session);
  }

  async delete(id: string): Promise<boolean> {
    return this.byId.delete(id);
  }

  async listForUser(userId: string): Promise<SessionRecord[]> {
    return [...this.byId.values()]
      .filter((s) => s.userId === userId)
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
      .map((s) => structuredClone(s));
  }

  async deleteForUser(userId: string): Promise<number> {
    let deleted = 0;
    for (const [id, session] of this.byId) {
      if (session.userId === userId && this.byId.delete(id)) deleted++;
    }
    return deleted;
  }
}
