import { createHash } from 'node:crypto';
import { normalizeEmail, type Organization, type User } from '../../domain/accounts.ts';
import { ConflictError, ValidationError } from '../../errors/index.ts';
import type { AccountDeps, AccountService } from '../accounts/account-service.ts';
import { parseSeedFile, type SeedApiKey, type SeedFile, type SeedOrganization, type SeedUser } from './seed-file.ts';
import { applyClients, planClients, type ClientImportDeps } from './seed-client-import.ts';
import { applyKeys, entryChecked, planKeys, type KeyImportDeps, type KeyOwner } from './seed-key-import.ts';

export interface Counts {
  created: number;
  updated: number;
  unchanged: number;
}

export interface ImportSummary {
  users: Counts;
  organizations: Counts;
  memberships: Counts;
  api_keys: Counts;
  clients: Counts;
}

/** The stores are read to plan; every write goes through the service that owns the record. */
export type SeedImporterDeps = Pick<AccountDeps, 'users' | 'organizations' | 'memberships'> & { accounts: AccountService } & KeyImportDeps & ClientImportDeps;

interface PlannedUser {
  entry: SeedUser;
  id: string;
  existing: User | null;
}

interface PlannedOrganization {
  entry: SeedOrganization;
  id: string;
  existing: Organization | null;
}

interface PlannedMembership {
  userId: string;
  orgId: string;
  role: SeedFile['memberships'][number]['role'];
}

/**
 * Loads a seed file (TESSERA_SEED at start-up, `tessera import`). Idempotent — entries are matched
 * to what is stored (users by id, else email; organizations by id) and only differences are
 * written, so a second run writes nothing — and all-or-nothing as far as the file goes: every entry
 * and every reference is checked against the file and the stores before the first write, and an
 * invalid file is refused with the entry and field named. (FerretDB has no transactions, so a crash
 * mid-write can leave part of a valid file applied; running the import again completes it.)
 */
export class SeedImporter {
  private readonly deps: SeedImporterDeps;

  constructor(deps: SeedImporterDeps) {
    this.deps = deps;
  }

  async import(input: unknown): Promise<ImportSummary> {
    try {
      return await this.importOnce(input);
    } catch (error) {
      // Replicas started together with the same seed file race to create the same entries; the
      // loser plans again and finds them stored (the import is idempotent).
      if (!(error instanceof ConflictError)) throw error;
      return this.importOnce(input);
    }
  }

  private async importOnce(input: unknown): Promise<ImportSummary> {
    const file = parseSeedFile(input);
    const users = await this.planUsers(file.users);
    const organizations = await this.planOrganizations(file.organizations);
    const memberships = await this.planMemberships(file, users, organizations);
    const keys = await planKeys(this.deps, file.api_keys, (entry, i) => this.keyOwner(entry, i, users, organizations, memberships));
    const clients = await planClients(this.deps, file.clients);
    return {
      users: await this.applyUsers(users),
      organizations: await this.applyOrganizations(organizations),
      memberships: await this.applyMemberships(memberships),
      api_keys: await applyKeys(this.deps, keys),
      clients: await applyClients(this.deps, clients),
    };
  }

  private async keyOwner(entry: SeedApiKey, i: number, users: PlannedUser[], orgs: PlannedOrganization[], memberships: PlannedMembership[]): Promise<KeyOwner> {
    const userId = await this.resolveUser(entry.user, users);
    if (userId === null) throw new ValidationError(`api_keys[${i}].user`, `api_keys[${i}].user: no user "${entry.user}" in this file or the store`);
    const orgId = await this.resolveOrganization(entry.org, orgs);
    if (orgId === null) throw new ValidationError(`api_keys[${i}].org`, `api_keys[${i}].org: no organization "${entry.org}" in this file or the store`);
    const inFile = memberships.find((m) => m.userId === userId && m.orgId === orgId);
    const role = inFile?.role ?? (await this.deps.memberships.find(userId, orgId))?.role ?? null;
    return { userId, orgId, role };
  }

  private async planUsers(entries: SeedUser[]): Promise<PlannedUser[]> {
    const seenIds = new Map<string, number>();
    const seenEmails = new Map<string, number>();
    const planned: PlannedUser[] = [];
    for (const [i, entry] of entries.entries()) {
      const email = normalizeEmail(entry.email);
      duplicate(seenEmails, email, i, `users[${i}].email`, 'users');
      if (entry.id !== undefined) duplicate(seenIds, entry.id, i, `users[${i}].id`, 'users');
      const byEmail = await this.deps.users.findByEmail(email);
      const byId = entry.id === undefined ? null : await this.deps.users.findById(entry.id);
      if (byEmail && entry.id !== undefined && byEmail.id !== entry.id) {
        throw new ValidationError(`users[${i}].email`, `users[${i}].email: already belongs to another user (${byEmail.id})`);
      }
      const existing = byId ?? byEmail;
      planned.push({ entry, id: entry.id ?? existing?.id ?? this.deps.accounts.newUserId(), existing });
    }
    return planned;
  }

  private async planOrganizations(entries: SeedOrganization[]): Promise<PlannedOrganization[]> {
    const seen = new Map<string, number>();
    const planned: PlannedOrganization[] = [];
    for (const [i, entry] of entries.entries()) {
      // Without an id, the id is derived from the name, so that importing twice finds it again.
      const id = entry.id ?? derivedOrgId(entry.name);
      if (entry.plan !== undefined) entryChecked(`organizations[${i}]`, () => this.deps.accounts.checkPlan(entry.plan!));
      duplicate(seen, id, i, entry.id === undefined ? `organizations[${i}].name` : `organizations[${i}].id`, 'organizations');
      planned.push({ entry, id, existing: await this.deps.organizations.findById(id) });
    }
    return planned;
  }

  private async planMemberships(file: SeedFile, users: PlannedUser[], orgs: PlannedOrganization[]): Promise<PlannedMembership[]> {
    const seen = new Map<string, number>();
    const planned: PlannedMembership[] = [];
    for (const [i, entry] of file.memberships.entries()) {
      const userId = await this.resolveUser(entry.user, users);
      if (userId === null) throw new ValidationError(`memberships[${i}].user`, `memberships[${i}].user: no user "${entry.user}" in this file or the store`);
      const orgId = await this.resolveOrganization(entry.org, orgs);
      if (orgId === null) throw new ValidationError(`memberships[${i}].org`, `memberships[${i}].org: no organization "${entry.org}" in this file or the store`);
      duplicate(seen, `${userId} ${orgId}`, i, `memberships[${i}]`, 'memberships');
      planned.push({ userId, orgId, role: entry.role });
    }
    return planned;
  }

  private async resolveUser(ref: string, users: PlannedUser[]): Promise<string | null> {
    const inFile = users.find((u) => u.id === ref || normalizeEmail(u.entry.email) === normalizeEmail(ref));
    if (inFile) return inFile.id;
    const stored = (await this.deps.users.findById(ref)) ?? (ref.includes('@') ? await this.deps.users.findByEmail(ref) : null);
    return stored?.id ?? null;
  }

  private async resolveOrganization(ref: string, orgs: PlannedOrganization[]): Promise<string | null> {
    const inFile = orgs.find((o) => o.id === ref || (o.entry.id === undefined && o.entry.name === ref));
    if (inFile) return inFile.id;
    return (await this.deps.organizations.findById(ref))?.id ?? null;
  }

  private async applyUsers(planned: PlannedUser[]): Promise<Counts> {
    const counts: Counts = { created: 0, updated: 0, unchanged: 0 };
    for (const { entry, id, existing } of planned) {
      const fields = { email: entry.email, password: entry.password, passwordHash: entry.password_hash, disabled: entry.disabled };
      if (!existing) {
        await this.deps.accounts.createUser({ id, name: entry.name ?? null, ...fields });
        counts.created++;
        continue;
      }
      const updated = await this.deps.accounts.updateUser(id, { ...fields, ...(entry.name !== undefined ? { name: entry.name } : {}) });
      counts[updated?.changed ? 'updated' : 'unchanged']++;
    }
    return counts;
  }

  private async applyOrganizations(planned: PlannedOrganization[]): Promise<Counts> {
    const counts: Counts = { created: 0, updated: 0, unchanged: 0 };
    for (const { entry, id, existing } of planned) {
      if (!existing) {
        await this.deps.accounts.createOrganization({ id, name: entry.name, plan: entry.plan, disabled: entry.disabled });
        counts.created++;
        continue;
      }
      const updated = await this.deps.accounts.updateOrganization(id, { name: entry.name, plan: entry.plan, disabled: entry.disabled });
      counts[updated?.changed ? 'updated' : 'unchanged']++;
    }
    return counts;
  }

  private async applyMemberships(planned: PlannedMembership[]): Promise<Counts> {
    const counts: Counts = { created: 0, updated: 0, unchanged: 0 };
    for (const { userId, orgId, role } of planned) counts[(await this.deps.accounts.setMembership(userId, orgId, role)).change]++;
    return counts;
  }
}

function duplicate(seen: Map<string, number>, key: string, index: number, field: string, section: string): void {
  const first = seen.get(key);
  if (first !== undefined) throw new ValidationError(field, `${field}: duplicates ${section}[${first}]`);
  seen.set(key, index);
}

/** `org_` + 16 base62-ish characters of SHA-256(name): stable across imports. */
export function derivedOrgId(name: string): string {
  return `org_${createHash('sha256').update(`organization:${name}`).digest('base64url').replace(/[-_]/g, '').slice(0, 16)}`;
}
