import { inspectKey, type KeyFormat } from '../../domain/api-key-format.ts';
import type { ApiKey, ApiKeyRecord } from '../../domain/api-key.ts';
import type { Role } from '../../domain/accounts.ts';
import { newId } from '../../domain/ids.ts';
import { ValidationError } from '../../errors/index.ts';
import type { ApiKeyStore } from '../../ports.ts';
import type { ApiKeyService, ImportedKey } from '../keys/api-key-service.ts';
import { hashKey } from '../../domain/key-hash.ts';
import type { SeedApiKey } from './seed-file.ts';

export interface KeyImportDeps {
  apiKeys: ApiKeyStore;
  keys: ApiKeyService;
  format: KeyFormat;
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
 * Plans the import of `api_keys` entries: every check (ownership, the key rules of
 * ApiKeyService.importable, duplicates, conflicts with stored keys) before anything is written.
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
    const input: ImportedKey = {
      id: entry.id ?? existing?.id ?? newId('key'),
      hash,
      start: shape?.kind === 'valid' ? shape.start : displayStart(entry.key),
      name: entry.name,
      scopes: entry.scopes,
      env: entry.env ?? (shape?.kind === 'valid' ? shape.env : 'live'),
      expiresAt: entry.expires_at ?? null,
    };
    const { role } = owner;
    planned.push({ existing, record: entryChecked(at, () => deps.keys.importable({ userId: owner.userId, orgId: owner.orgId, role }, input)) });
  }
  return planned;
}

/** Writes planned keys through their owner, ApiKeyService. */
export async function applyKeys(deps: KeyImportDeps, planned: PlannedKey[]): Promise<{ created: number; updated: number; unchanged: number }> {
  const counts = { created: 0, updated: 0, unchanged: 0 };
  for (const { record, existing } of planned) counts[await deps.keys.import(record, existing)]++;
  return counts;
}

/** A service's ValidationError about one field, named as the entry's field: `api_keys[2].scopes: …`. */
export function entryChecked<T>(at: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof ValidationError) || error.field === undefined) throw error;
    // The message may start with the field's own name ("name must …"): the entry's path replaces it.
    const message = error.message.replace(new RegExp(`^${error.field.replace(/[[\].]/g, '\\$&')}:? `), '');
    throw new ValidationError(`${at}.${error.field}`, `${at}.${error.field}: ${message}`);
  }
}

/** For a key of a foreign format: its first 8 characters, when it is long enough to spare them. */
function displayStart(key: string | undefined): string | null {
  return key !== undefined && key.length >= 32 ? key.slice(0, 8) : null;
}
