import type { Actor } from '../../domain/principal.ts';
import type { ScopeCatalog } from '../../domain/scopes.ts';
import { ValidationError } from '../../errors/index.ts';
import type { MembershipStore, UserStore } from '../../ports.ts';

/**
 * An operator at the CLI acting for a member of an organization (e.g. to make the first key of
 * a fresh deployment): everything that member's role allows, recorded as a CLI action.
 */
export async function operatorActor(
  deps: { users: UserStore; memberships: MembershipStore },
  catalog: ScopeCatalog,
  userRef: string,
  orgId: string,
): Promise<Actor> {
  const user = (await deps.users.findById(userRef)) ?? (userRef.includes('@') ? await deps.users.findByEmail(userRef) : null);
  if (!user) throw new ValidationError('user', `no user "${userRef}"`);
  const membership = await deps.memberships.find(user.id, orgId);
  if (!membership) throw new ValidationError('org', `user ${user.id} is not a member of organization "${orgId}"`);
  return { userId: user.id, orgId, role: membership.role, scopes: catalog.allowedFor(membership.role), credential: { kind: 'cli' } };
}
