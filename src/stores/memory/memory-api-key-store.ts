import type { ApiKey, ApiKeyRecord } from '../../domain/api-key.ts';
import { ConflictError } from '../../errors/index.ts';
import type { ApiKeyConditions, ApiKeyPatch, ApiKeyStore } from '../../ports.ts';
import { definedOnly } from './memory-user-store.ts';

export class MemoryApiKeyStore implements ApiKeyStore {
  private readonly byId = new Map<string, ApiKey>();
  private readonly idByHash = new Map<string, string>();

  async insert(key: ApiKey): Promise<void> {
    // The hash first: the same key stored twice is "already stored", whatever its id (as in MongoDB).
    if (this.idByHash.has(key.hash)) throw new ConflictError('This API key is already stored', 'hash');
    if (this.byId.has(key.id)) throw new ConflictError('An API key with this id already exists', 'id');
    this.byId.set(key.id, structuredClone(key));
    this.idByHash.set(key.hash, key.id);
  }

  async findById(id: string): Promise<ApiKey | null> {
    const key = this.byId.get(id);
    return key ? structuredClone(key) : null;
  }

  async findByHash(hash: string): Promise<ApiKeyRecord | null> {
    const id = this.idByHash.get(hash);
    const key = id === undefined ? null : await this.findById(id);
    if (!key) return null;
    const { lastUsedAt: _lastUsed, lastUsedFrom: _from, ...record } = key;
    return record;
  }

  async listForOrg(orgId: string, filter: { userId?: string } = {}): Promise<ApiKey[]> {
    return [...this.byId.values()]
      .filter((k) => k.orgId === orgId && k.revokedAt === null && (filter.userId === undefined || k.userId === filter.userId))
      .sort(newestFirst)
      .map((k) => structuredClone(k));
  }

  // No await between the checks and the write: in one process that makes it atomic.
  async update(id: string, patch: ApiKeyPatch, conditions: ApiKeyConditions = {}): Promise<ApiKey | null> {
    const key = this.byId.get(id);
    if (!key) return null;
    if (conditions.notRevoked && key.revokedAt !== null) return null;
    if (conditions.notRotated && key.rotatedTo !== null) return null;
    if (conditions.disabledByRole !== undefined && key.disabledByRole !== conditions.disabledByRole) return null;
    const updated: ApiKey = { ...key, ...structuredClone(definedOnly(patch)) };
    this.byId.set(id, updated);
    return structuredClone(updated);
  }

  async touchLastUsed(id: string, at: Date, from: string | null): Promise<void> {
    const key = this.byId.get(id);
    if (!key) return;
    if (key.lastUsedAt === null || key.lastUsedAt.getTime() < at.getTime()) key.lastUsedAt = new Date(at);
    key.lastUsedFrom = from;
  }
}

/** createdAt descending, then id descending by code unit: the order the MongoDB store gives. */
function newestFirst(a: ApiKey, b: ApiKey): number {
  return b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}
