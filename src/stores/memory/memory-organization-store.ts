import type { Organization } from '../../domain/accounts.ts';
import { ConflictError } from '../../errors/index.ts';
import type { OrganizationPatch, OrganizationStore } from '../../ports.ts';
import { definedOnly } from './memory-user-store.ts';

export class MemoryOrganizationStore implements OrganizationStore {
  private readonly byId = new Map<string, Organization>();

  async insert(org: Organization): Promise<void> {
    if (this.byId.has(org.id)) throw new ConflictError('An organization with this id already exists', 'id');
    this.byId.set(org.id, structuredClone(org));
  }

  async findById(id: string): Promise<Organization | null> {
    const org = this.byId.get(id);
    return org ? structuredClone(org) : null;
  }

  async plansInUse(): Promise<string[]> {
    return [...new Set([...this.byId.values()].map((o) => o.plan))].sort();
  }

  async update(id: string, patch: OrganizationPatch): Promise<Organization | null> {
    const org = this.byId.get(id);
    if (!org) return null;
    const updated = { ...org, ...definedOnly(patch) };
    this.byId.set(id, updated);
    return structuredClone(updated);
  }
}
