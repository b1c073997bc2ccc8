import type { OAuthClient } from '../../domain/oauth.ts';
import { ConflictError } from '../../errors/index.ts';
import type { ClientPatch, ClientStore } from '../../ports.ts';
import { definedOnly } from './memory-user-store.ts';

export class MemoryClientStore implements ClientStore {
  private readonly byId = new Map<string, OAuthClient>();

  async insert(client: OAuthClient): Promise<void> {
    if (this.byId.has(client.id)) throw new ConflictError('An OAuth client with this id already exists', 'id');
    this.byId.set(client.id, structuredClone(client));
  }

  async findById(id: string): Promise<OAuthClient | null> {
    const client = this.byId.get(id);
    return client ? structuredClone(client) : null;
  }

  async update(id: string, patch: ClientPatch): Promise<OAuthClient | null> {
    const client = this.byId.get(id);
    if (!client) return null;
    const updated: OAuthClient = { ...client, ...structuredClone(definedOnly(patch)) };
    this.byId.set(id, updated);
    return structuredClone(updated);
  }

  async list(): Promise<OAuthClient[]> {
    return [...this.byId.values()].sort(oldestFirst).map((c) => structuredClone(c));
  }
}

/** createdAt ascending, then id ascending by code unit: the order the MongoDB store gives. */
function oldestFirst(a: OAuthClient, b: OAuthClient): number {
  return a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
