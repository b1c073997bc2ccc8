import type { OAuthClient } from '../../domain/oauth.ts';
import { ValidationError } from '../../errors/index.ts';
import type { ClientStore } from '../../ports.ts';
import { hashClientSecret, type ClientService } from '../oauth-apps/client-service.ts';
import type { SeedClient } from './seed-file.ts';
import { entryChecked } from './seed-key-import.ts';

export interface ClientImportDeps {
  clients: ClientStore;
  /** The one writer of clients: it checks each registration and tells every instance of changes. */
  clientService: ClientService;
}

interface PlannedClient {
  record: OAuthClient;
  existing: OAuthClient | null;
}

/** Checks every `clients` entry (ClientService.registration's rules, duplicates) before anything is written. */
export async function planClients(deps: ClientImportDeps, entries: SeedClient[]): Promise<PlannedClient[]> {
  const seen = new Map<string, number>();
  const planned: PlannedClient[] = [];
  for (const [i, entry] of entries.entries()) {
    const at = `clients[${i}]`;
    const first = seen.get(entry.client_id);
    if (first !== undefined) throw new ValidationError(`${at}.client_id`, `${at}.client_id: duplicates clients[${first}]`);
    seen.set(entry.client_id, i);
    const record = entryChecked(at, () =>
      deps.clientService.registration({
        id: entry.client_id,
        name: entry.name,
        type: entry.type,
        secretHash: hashClientSecret(entry.client_secret),
        redirectUris: entry.redirect_uris,
        scopes: entry.scopes,
        disabled: entry.disabled,
        orgId: entry.org_id ?? null,
      }),
    );
    planned.push({ record, existing: await deps.clients.findById(entry.client_id) });
  }
  return planned;
}

export async function applyClients(deps: ClientImportDeps, planned: PlannedClient[]): Promise<{ created: number; updated: number; unchanged: number }> {
  const counts = { created: 0, updated: 0, unchanged: 0 };
  for (const { record, existing } of planned) counts[await deps.clientService.register(record, existing)]++;
  return counts;
}
