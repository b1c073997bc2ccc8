import { inspectKey, type KeyFormat } from '../../domain/api-key-format.ts';
import { NO_LIMITS, type ApiKey, type ApiKeyRecord } from '../../domain/api-key.ts';
import type { Role } from '../../domain/accounts.ts';
import { newId } from '../../domain/ids.ts';
import { normalizeScopes, type ScopeCatalog } from '../../domain/scopes.ts';
import { ValidationError } from '../../errors/index.ts';
import type { ApiKeyPatch, ApiKeyStore, Clock } from '../../ports.ts';
import type { BearerEvents } from '../revocation/bearer-events.ts';
import { hashKey } from '../../domain/key-hash.ts';
import type { SeedApiKey } from './seed-file.ts';

export interface KeyImportDeps {
  apiKeys: ApiKeyStore;
  format: KeyFormat;
  catalog: ScopeCatalog;
  clock: Clock;
  events: BearerEvents;
}

export interface KeyOwner {
  userId: string;
  orgId: string;
  /** The owner's role in the organization: from the same file, else from the store; null if none. */
  role: Role | null;
}

interface PlannedKey {
  record: ApiKey;
  existing: ApiKeyRecord | null;
}

/**
 * Plans the import of `api_keys` entries: every check (ownership, scopes within the owner's role,
 * duplicates, conflicts with stored keys) before anything is written.
 */
export async function planKeys(
  deps: KeyImportDeps,
  entries: SeedApiKey[],
  ownerOf: (entry: SeedApiKey, index: number) => Promise<KeyOwner>,
): Promise<PlannedKey[]> {
  const seenHashes = new Map<string, number>();
  const seenIds = new Map<string, number>();
  const planned: PlannedKey[] = [];
  for (const [i, entry] of entries.entries()) {
    const at = `api_keys[${i}]`;
    const owner = await ownerOf(entry, i);
    if (owner.role === null) throw new ValidationError(`${at}.user`, `${at}.user: not a member of organization "${owner.orgId}"`);
    const allowed = deps.catalog.allowedFor(owner.role);
    const scopes = normalizeScopes(entry.scopes ?? allowed);
    const unknown = scopes.filter((s) => !deps.catalog.isKnown(s));
    if (unknown.length > 0) throw new ValidationError(`${at}.scopes`, `${at}.scopes: unknown scope ${unknown.join(', ')}`);
    const beyond = scopes.filter((s) => !allowed.includes(s));
    if (beyond.length > 0) throw new ValidationError(`${at}.scopes`, `${at}.scopes: beyond what the ${owner.role} role allows: ${beyond.join(', ')}`);

    const hash = entry.key !== undefined ? hashKey(entry.key) : entry.key_sha256!;
    const first = seenHashes.get(hash);
    if (first !== undefined) throw new ValidationError(`${at}.key`, `${at}.key: the same key as api_keys[${first}]`);
    seenHashes.set(hash, i);
    if (entry.id !== undefined) {
      const firstId = seenIds.get(entry.id);
      if (firstId !== undefined) throw new ValidationError(`${at}.id`, `${at}.id: duplicates api_keys[${firstId}]`);
      seenIds.set(entry.id, i);
    }

    const byHash = await deps.apiKeys.findByHash(hash);
    const byId = entry.id === undefined ? null : await deps.apiKeys.findById(entry.id);
    if (byId && byId.hash !== hash) throw new ValidationError(`${at}.id`, `${at}.id: already used by another key`);
    if (byHash && entry.id !== undefined && byHash.id !== entry.id) {
      throw new ValidationError(`${at}.key`, `${at}.key: already stored as ${byHash.id}`);
    }
    const existing = byId ?? byHash;
    if (existing && (existing.orgId !== owner.orgId || existing.userId !== owner.userId)) {
      throw new ValidationError(`${at}.key`, `${at}.key: already stored for another user or organization`);
    }
    const shape = entry.key === undefined ? null : inspectKey(deps.format, entry.key);
    const env = entry.env ?? (shape?.kind === 'valid' ? shape.env : 'live');
    planned.push({
      existing,
      record: {
        id: entry.id ?? existing?.id ?? newId('key'),
        orgId: owner.orgId,
        userId: owner.userId,
        name: entry.name?.trim() || null,
        scopes,
        env,
        hash,
        start: shape?.kind === 'valid' ? shape.start : displayStart(entry.key),
        active: true,
        createdAt: deps.clock.now(),
        lastUsedAt: null,
        expiresAt: entry.expires_at ?? null,
        revokedAt: null,
        limits: NO_LIMITS,
        rotatedFrom: null,
        rotatedTo: null,
        disabledByRole: null,
      },
    });
  }
  return planned;
}

/** Writes planned keys; a key already stored is updated only where the file differs. */
export async function applyKeys(deps: KeyImportDeps, planned: PlannedKey[]): Promise<{ created: number; updated: number; unchanged: number }> {
  const counts = { created: 0, updated: 0, unchanged: 0 };
  for (const { record, existing } of planned) {
    if (!existing) {
      await deps.apiKeys.insert(record);
      counts.created++;
      continue;
    }
    const patch: ApiKeyPatch = {};
    if (existing.name !== record.name) patch.name = record.name;
    if (existing.scopes.join(' ') !== record.scopes.join(' ')) patch.scopes = record.scopes;
    if ((existing.expiresAt?.getTime() ?? null) !== (record.expiresAt?.getTime() ?? null)) patch.expiresAt = record.expiresAt;
    if (Object.keys(patch).length === 0) {
      counts.unchanged++;
      continue;
    }
    // A revoked key stays revoked: importing it again never brings it back.
    const updated = await deps.apiKeys.update(existing.id, patch, { notRevoked: true });
    if (updated) await deps.events.publish({ kind: 'api_key', hash: updated.hash, id: updated.id });
    counts.updated++;
  }
  return counts;
}

/** For a key of a foreign format: its first 8 characters, when it is long enough to spare them. */
function displayStart(key: string | undefined): string | null {
  return key !== undefined && key.length >= 32 ? key.slice(0, 8) : null;
}
