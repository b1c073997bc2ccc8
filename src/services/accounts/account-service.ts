import { EMAIL_PATTERN, normalizeEmail, type Membership, type Organization, type Role, type User } from '../../domain/accounts.ts';
import { checkDisplayText } from '../../domain/display-text.ts';
import { newId } from '../../domain/ids.ts';
import { ValidationError } from '../../errors/index.ts';
import type { Clock, MembershipStore, OrganizationStore, UserStore } from '../../ports.ts';
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
}

export interface NewUser {
  id?: string;
  email: string;
  password?: string | null;
  name?: string | null;
}

export interface NewOrganization {
  id?: string;
  name: string;
  plan?: string;
}

export class AccountService {
  private readonly deps: AccountDeps;
  /** Verified against when the email is unknown, so that both paths cost one argon2 verify. */
  private dummyHash: Promise<string> | null = null;

  constructor(deps: AccountDeps) {
    this.deps = deps;
  }

  async createUser(input: NewUser): Promise<User> {
    if (!EMAIL_PATTERN.test(input.email.trim())) throw new ValidationError('email', 'email must be a valid email address');
    const password = input.password ?? null;
    if (password !== null) checkPassword(password, 'password');
    const name = checkDisplayText(input.name ?? '', { max: 200 });
    if ('problem' in name) throw new ValidationError('name', `name ${name.problem}`);
    const user: User = {
      id: input.id ?? newId('usr'),
      email: input.email.trim(),
      name: name.value || null,
      passwordHash: password === null ? null : await this.deps.hasher.hash(password),
      disabled: false,
      createdAt: this.deps.clock.now(),
    };
    await this.deps.users.insert(user);
    return user;
  }

  async createOrganization(input: NewOrganization): Promise<Organization> {
    const name = checkDisplayText(input.name, { min: 1, max: 200 });
    if ('problem' in name) throw new ValidationError('name', `name ${name.problem}`);
    const org: Organization = {
      id: input.id ?? newId('org'),
      name: name.value,
      plan: input.plan ?? 'free',
      disabled: false,
      createdAt: this.deps.clock.now(),
    };
    await this.deps.organizations.insert(org);
    return org;
  }

  async setMembership(userId: string, orgId: string, role: Role): Promise<Membership> {
    return this.deps.memberships.upsert({ id: newId('mem'), userId, orgId, role, createdAt: this.deps.clock.now() });
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

export function checkPassword(password: string, field: string): void {
  if (password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) {
    throw new ValidationError(field, `${field} must be ${PASSWORD_MIN}–${PASSWORD_MAX} characters`);
  }
}
