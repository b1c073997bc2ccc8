import type { Role } from '../../domain/accounts.ts';
import type { InactiveReason } from '../../domain/resolution.ts';
import type { MembershipStore, OrganizationStore, UserStore } from '../../ports.ts';
import type { SharedRecordCache } from '../caching/shared-record-cache.ts';

/** A member's standing in an organization now, and when the records behind it were read. */
export type MemberStanding = { role: Role; plan: string; orgDisabled: boolean; readAt: number } | { reason: Extract<InactiveReason, 'user-disabled' | 'not-a-member'> };

export interface MemberCheckDeps {
  users: UserStore;
  memberships: MembershipStore;
  organizations: OrganizationStore;
  /** Users, memberships and organizations, read once for every credential that shares them. */
  shared: SharedRecordCache;
}

/**
 * Whether a user may act in an organization now, and with which role: the one rule every
 * credential — API key, OAuth token, console session — is held to. A disabled user, or one who is
 * no longer a member, may not act at all; a disabled organization is reported for the caller to
 * refuse (403, not 401: the credential is valid).
 */
export class MemberCheck {
  private readonly deps: MemberCheckDeps;

  constructor(deps: MemberCheckDeps) {
    this.deps = deps;
  }

  async standing(userId: string, orgId: string): Promise<MemberStanding> {
    const { shared } = this.deps;
    const [user, membership, org] = await Promise.all([
      shared.readRecord(`user:${userId}`, () => this.deps.users.findById(userId)),
      shared.read(`membership:${userId}\n${orgId}`, [`user:${userId}`, `organization:${orgId}`], () => this.deps.memberships.find(userId, orgId)),
      shared.readRecord(`organization:${orgId}`, () => this.deps.organizations.findById(orgId)),
    ]);
    if (!user.value || user.value.disabled) return { reason: 'user-disabled' };
    if (!membership.value || !org.value) return { reason: 'not-a-member' };
    return { role: membership.value.role, plan: org.value.plan, orgDisabled: org.value.disabled, readAt: Math.min(user.readAt, membership.readAt, org.readAt) };
  }
}
