import { EMAIL_PATTERN, normalizeEmail, type Membership, type Organization, type Role, type User } from '../../domain/accounts.ts';
import { checkDisplayText } from '../../domain/display-text.ts';
import { newId, newUserId, type UserIdFormat } from '../../domain/ids.ts';
import { ValidationError } from '../../errors/index.ts';
import type { Clock, MembershipStore, OrganizationPatch, OrganizationStore, UserPatch, UserStore } from '../../ports.ts';
import type { BearerEvents } from '../revocation/bearer-events.ts';
import type { PasswordHasher } from './password-hasher.ts';

export const PASSWORD_MIN = 8;
/** Bounded so that hashing cannot be used to burn CPU. */
export const PASSWORD_MAX = 1024;

export interface AccountDeps {
  users: UserStore;
  organizations: OrganizationStore;
  memberships: MembershipStore;
  hasher: PasswordHasher;
  clock: Clock;
  events: BearerEvents;
  /** The plans organizations may be on; the first is a new organization's. */
  plans: readonly string[];
  /** The format of the ids of users created here (the profile's). */
  userIds: UserIdFormat;
}

export interface NewUser {
  id?: string;
  email: string;
  password?: string | null;
  /** An argon2id hash brought from another system, instead of a password. */
  passwordHash?: string | null;
  name?: string | null;
  disabled?: boolean;
}

export interface NewOrganization {
  id?: string;
  name: string;
  plan?: string;
  disabled?: boolean;
}

/** What may change of a user: a new password is hashed here. */
export type UserChange = Omit<UserPatch, 'passwordHash'> & { password?: string; passwordHash?: string | null };

/**
 * Users, organizations and memberships: the one writer of all three, so also the one that tells
 * every instance when a change reaches bearers — a user disabled or re-enabled, an organization
 * disabled, a role changed — through a bearer event (docs/architecture.md, Bearer events).
 */
export class AccountService {
  private readonly deps: AccountDeps;
  /** Verified against when the email is unknown, so that both paths cost one argon2 verify. */
  private dummyHash: Promise<string> | null = null;

  constructor(deps: AccountDeps) {
    this.deps = deps;
  }

  /** An id for a new user, in the deployment's format. */
  newUserId(): string {
    return newUserId(this.deps.userIds);
  }

  async createUser(input: NewUser): Promise<User> {
    if (!EMAIL_PATTERN.test(input.email.trim())) throw new ValidationError('email', 'email must be a valid email address');
    const password = input.password ?? null;
    if (password !== null) checkPassword(password, 'password');
    const user: User = {
      id: input.id ?? this.newUserId(),
      email: input.email.trim(),
      name: userName(input.name),
      passwordHash: password === null ? (input.passwordHash ?? null) : await this.deps.hasher.hash(password),
      disabled: input.disabled ?? false,
      createdAt: this.deps.clock.now(),
    };
    await this.deps.users.insert(user);
    return user;
  }

  /** Writes what differs; a new password only when the stored hash does not already match it. Null for an unknown user. */
  async updateUser(id: string, change: UserChange): Promise<{ user: User; changed: boolean } | null> {
    const existing = await this.deps.users.findById(id);
    if (!existing) return null;
    const patch: UserPatch = {};
    if (change.email !== undefined && change.email.trim() !== existing.email) patch.email = change.email.trim();
    if (change.name !== undefined && userName(change.name) !== existing.name) patch.name = userName(change.name);
    if (change.disabled !== undefined && change.disabled !== existing.disabled) patch.disabled = change.disabled;
    if (change.passwordHash !== undefined && change.passwordHash !== existing.passwordHash) patch.passwordHash = change.passwordHash;
    if (change.password !== undefined) {
      checkPassword(change.password, 'password');
      if (!(existing.passwordHash && (await this.deps.hasher.verify(existing.passwordHash, change.password)))) patch.passwordHash = await this.deps.hasher.hash(change.password);
    }
    if (Object.keys(patch).length === 0) return { user: existing, changed: false };
    const user = (await this.deps.users.update(id, patch)) ?? existing;
    // Caches keep user records for every bearer of the user: a disabled user's bearers stop at once.
    await this.deps.events.publish({ kind: 'user', id });
    return { user, changed: true };
  }

  async createOrganization(input: NewOrganization): Promise<Organization> {
    const org: Organization = {
      id: input.id ?? newId('org'),
      name: organizationName(input.name),
      plan: this.checkPlan(input.plan ?? this.deps.plans[0]!),
      disabled: input.disabled ?? false,
      createdAt: this.deps.clock.now(),
    };
    await this.deps.organizations.insert(org);
    return org;
  }

  /** Writes what differs; null for an unknown organization. */
  async updateOrganization(id: string, change: OrganizationPatch): Promise<{ organization: Organization; changed: boolean } | null> {
    const existing = await this.deps.organizations.findById(id);
    if (!existing) return null;
    const patch: OrganizationPatch = {};
    if (change.name !== undefined && organizationName(change.name) !== existing.name) patch.name = organizationName(change.name);
    if (change.plan !== undefined && change.plan !== existing.plan) patch.plan = this.checkPlan(change.plan);
    if (change.disabled !== undefined && change.disabled !== existing.disabled) patch.disabled = change.disabled;
    if (Object.keys(patch).length === 0) return { organization: existing, changed: false };
    const organization = (await this.deps.organizations.update(id, patch)) ?? existing;
    await this.deps.events.publish({ kind: 'organization', id });
    return { organization, changed: true };
  }

  /** A plan name the deployment has (its plans file), or a ValidationError naming the field. */
  checkPlan(plan: string): string {
    if (!this.deps.plans.includes(plan)) throw new ValidationError('plan', `plan "${plan}" is not one of this deployment's plans (${this.deps.plans.join(', ')})`);
    return plan;
  }

  /** Makes the user a member with `role`; a changed role changes what the user's bearers may do, at once. */
  async setMembership(userId: string, orgId: string, role: Role): Promise<{ membership: Membership; change: 'created' | 'updated' | 'unchanged' }> {
    const existing = await this.deps.memberships.find(userId, orgId);
    if (existing?.role === role) return { membership: existing, change: 'unchanged' };
    const membership = await this.deps.memberships.upsert({ id: newId('mem'), userId, orgId, role, createdAt: this.deps.clock.now() });
    if (existing) await this.deps.events.publish({ kind: 'user', id: userId });
    return { membership, change: existing ? 'updated' : 'created' };
  }

  /**
   * The user whose email and password these are, or null — for an unknown email, a wrong
   * password, a user without a password and a disabled user alike, after the same work.
   */
  async authenticate(email: string, password: string): Promise<User | null> {
    if (password.length > PASSWORD_MAX) return null;
    const user = await this.deps.users.findByEmail(normalizeEmail(email));
    const stored = user?.passwordHash ?? (await this.dummy());
    const ok = await this.deps.hasher.verify(stored, password);
    return ok && user !== null && user.passwordHash !== null && !user.disabled ? user : null;
  }

  async findUser(id: string): Promise<User | null> {
    return this.deps.users.findById(id);
  }

  /** An organization's members with their role, by email. */
  async membersOf(orgId: string): Promise<Array<{ user: User; role: Role }>> {
    const memberships = await this.deps.memberships.listForOrg(orgId);
    const users = await Promise.all(memberships.map((m) => this.deps.users.findById(m.userId)));
    return memberships
      .flatMap((m, i) => {
        const user = users[i];
        return user ? [{ user, role: m.role }] : [];
      })
      .sort((a, b) => a.user.email.localeCompare(b.user.email));
  }

  /** The organizations a user may act for, with the role held in each. */
  async organizationsOf(userId: string): Promise<Array<{ organization: Organization; role: Role }>> {
    const memberships = await this.deps.memberships.listForUser(userId);
    const orgs = await Promise.all(memberships.map((m) => this.deps.organizations.findById(m.orgId)));
    return memberships.flatMap((m, i) => {
      const organization = orgs[i];
      return organization ? [{ organization, role: m.role }] : [];
    });
  }

  private dummy(): Promise<string> {
    this.dummyHash ??= this.deps.hasher.hash('tessera-timing-equalizer');
    return this.dummyHash;
  }
}

function userName(name: string | null | undefined): string | null {
  const checked = checkDisplayText(name ?? '', { max: 200 });
  if ('problem' in checked) throw new ValidationError('name', `name ${checked.problem}`);
  return checked.value || null;
}

function organizationName(name: string): string {
  const checked = checkDisplayText(name, { min: 1, max: 200 });
  if ('problem' in checked) throw new ValidationError('name', `name ${checked.problem}`);
  return checked.value;
}

export function checkPassword(password: string, field: string): void {
  if (password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) {
    throw new ValidationError(field, `${field} must be ${PASSWORD_MIN}–${PASSWORD_MAX} characters`);
  }
}
