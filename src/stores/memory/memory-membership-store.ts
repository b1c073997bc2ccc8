import type { Membership } from '../../domain/accounts.ts';
import type { MembershipStore } from '../../ports.ts';

export class MemoryMembershipStore implements MembershipStore {
  /** Keyed by `${orgId}\u0000${userId}`: one membership per pair. */
  private readonly byPair = new Map<string, Membership>();

  async upsert(membership: Membership): Promise<Membership> {
    const key = pairKey(membership.userId, membership.orgId);
    const existing = this.byPair.get(key);
    const stored = existing ? { ...existing, role: membership.role } : structuredClone(membership);
    this.byPair.set(key, stored);
    return structuredClone(stored);
  }

  async find(userId: string, orgId: string): Promise<Membership | null> {
    const m = this.byPair.get(pairKey(userId, orgId));
    return m ? structuredClone(m) : null;
  }

  async listForUser(userId: string): Promise<Membership[]> {
    return this.sorted([...this.byPair.values()].filter((m) => m.userId === userId));
  }

  async listForOrg(orgId: string): Promise<Membership[]> {
    return this.sorted([...this.byPair.values()].filter((m) => m.orgId === orgId));
  }

  async remove(userId: string, orgId: string): Promise<boolean> {
    return this.byPair.delete(pairKey(userId, orgId));
  }

  /** Oldest first, then by id: the order the MongoDB store gives too. */
  private sorted(list: Membership[]): Membership[] {
    return list
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id))
      .map((m) => structuredClone(m));
  }
}

function pairKey(userId: string, orgId: string): string {
  return `${orgId}\u0000${userId}`;
}
