import type { OAuthClient } from '../../domain/oauth.ts';
import type { ScopeCatalog } from '../../domain/scopes.ts';
import { ValidationError } from '../../errors/index.ts';
import type { ClientPatch, ClientStore, Clock } from '../../ports.ts';
import type { BearerEvents } from '../revocation/bearer-events.ts';
import { hashClientSecret, redirectUriProblem } from '../oauth-apps/client-service.ts';
import type { SeedClient } from './seed-file.ts';

export interface ClientImportDeps {
  clients: ClientStore;
  catalog: ScopeCatalog;
  clock: Clock;
  /** Tells every instance's cache when an import disables (or enables) a client. */
  events: BearerEvents;
}

interface PlannedClient {
  record: OAuthClient;
  existing: OAuthClient | null;
}

/** Checks every `clients` entry (redirect URIs, scopes, duplicates) before anything is written. */
export async function planClients(deps: ClientImportDeps, entries: SeedClient[]): Promise<PlannedClient[]> {
  const seen = new Map<string, number>();
  const planned: PlannedClient[] = [];
  for (const [i, entry] of entries.entries()) {
    const at = `clients[${i}]`;
    const first = seen.get(entry.client_id);
    if (first !== undefined) throw new ValidationError(`${at}.client_id`, `${at}.client_id: duplicates clients[${first}]`);
    seen.set(entry.client_id, i);
    const type = entry.type ?? 'connector';
    if (type === 'connector' && entry.redirect_uris.length === 0) {
      throw new ValidationError(`${at}.redirect_uris`, `${at}.redirect_uris: a connector needs at least one redirect URI`);
    }
    for (const [j, uri] of entry.redirect_uris.entries()) {
      const problem = redirectUriProblem(uri);
      if (problem) throw new ValidationError(`${at}.redirect_uris[${j}]`, `${at}.redirect_uris[${j}]: ${problem}`);
    }
    const unknown = entry.scopes.filter((s) => !deps.catalog.isKnown(s));
    if (unknown.length > 0) throw new ValidationError(`${at}.scopes`, `${at}.scopes: unknown scope ${unknown.join(', ')}`);
    const existing = await deps.clients.findById(entry.client_id);
    planned.push({
      existing,
      record: {
        id: entry.client_id,
        name: entry.name,
        type,
        secretHash: hashClientSecret(entry.client_secret),
        redirectUris: type === 'connector' ? [...new Set(entry.redirect_uris)] : [],
        scopes: [...new Set(entry.scopes)].sort(),
        disabled: entry.disabled ?? false,
        orgId: type === 'resource_server' ? (entry.org_id ?? null) : null,
        createdAt: deps.clock.now(),
      },
    });
  }
  return planned;
}

export async function applyClients(deps: ClientImportDeps, planned: PlannedClient[]): Promise<{ created: number; updated: number; unchanged: number }> {
  const counts = { created: 0, updated: 0, unchanged: 0 };
  for (const { record, existing } of planned) {
    if (!existing) {
      await deps.clients.insert(record);
      counts.created++;
      continue;
    }
    const patch: ClientPatch = {};
    if (existing.name !== record.name) patch.name = record.name;
    if (existing.secretHash !== record.secretHash) patch.secretHash = record.secretHash;
    if (existing.redirectUris.join(' ') !== record.redirectUris.join(' ')) patch.redirectUris = record.redirectUris;
    if (existing.scopes.join(' ') !== record.scopes.join(' ')) patch.scopes = record.scopes;
    if (existing.disabled !== record.disabled) patch.disabled = record.disabled;
    if (existing.orgId !== record.orgId) patch.orgId = record.orgId;
    if (Object.keys(patch).length === 0) {
      counts.unchanged++;
      continue;
    }
    await deps.clients.update(record.id, patch);
    // Caches keep client records (secret hash, organization, state) and the client's bearers.
    await deps.events.publish({ kind: 'client', id: record.id });
    counts.updated++;
  }
  return counts;
}
