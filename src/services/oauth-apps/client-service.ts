import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { CLIENT_TYPES, type ClientType, type OAuthClient } from '../../domain/oauth.ts';
import { checkDisplayText } from '../../domain/display-text.ts';
import { randomBase62 } from '../../domain/ids.ts';
import type { ScopeCatalog } from '../../domain/scopes.ts';
import { ValidationError } from '../../errors/index.ts';
import type { ClientPatch, ClientStore, Clock } from '../../ports.ts';
import type { BearerEvents } from '../revocation/bearer-events.ts';

export interface NewClient {
  id?: string;
  name: string;
  type?: ClientType;
  redirectUris?: string[];
  scopes?: string[];
  /** A secret brought from another system; generated when absent. */
  secret?: string;
  /** Resource servers only: the one organization whose bearers it may introspect. */
  orgId?: string | null;
}

export interface IssuedClient {
  client: OAuthClient;
  /** Shown once, at creation; only its SHA-256 is stored. */
  secret: string;
}

/** Client secrets carry 256 random bits: SHA-256 is enough to store them (no password stretching). */
export function hashClientSecret(secret: string): string {
  return hash('sha256', secret, 'hex');
}

/** Whether `secret` is the one whose hash is stored, compared in constant time. */
export function clientSecretMatches(secretHash: string, secret: string): boolean {
  const expected = Buffer.from(secretHash, 'hex');
  const presented = hash('sha256', secret, 'buffer');
  return expected.length === presented.length && timingSafeEqual(expected, presented);
}

/**
 * A redirect URI is registered as an absolute https URL (http only for loopback, for local
 * development), without a fragment (RFC 6749 §3.1.2), and later matched byte for byte.
 */
export function redirectUriProblem(uri: string): string | null {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.hash !== '' || uri.includes('#')) return 'must not contain a fragment';
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) return 'must use https (http only for localhost)';
  return null;
}

/** Operators register connectors (Zapier, Make) and resource servers. */
export class ClientService {
  private readonly clients: ClientStore;
  private readonly catalog: ScopeCatalog;
  private readonly clock: Clock;
  private readonly events: BearerEvents;

  constructor(clients: ClientStore, catalog: ScopeCatalog, clock: Clock, events: BearerEvents) {
    this.clients = clients;
    this.catalog = catalog;
    this.clock = clock;
    this.events = events;
  }

  async create(input: NewClient): Promise<IssuedClient> {
    const secret = input.secret ?? randomBytes(32).toString('base64url');
    const client = this.registration({ ...input, secretHash: hashClientSecret(secret) });
    await this.clients.insert(client);
    return { client, secret };
  }

  /**
   * A client as it would be registered, with every rule checked (ValidationError naming the
   * field): a name that hides nothing; a connector has redirect URIs, each an exact https URL
   * (redirectUriProblem); scopes are known.
   */
  registration(input: Omit<NewClient, 'secret'> & { secretHash: string; disabled?: boolean }): OAuthClient {
    const type = input.type ?? 'connector';
    if (!CLIENT_TYPES.includes(type)) throw new ValidationError('type', `type must be one of ${CLIENT_TYPES.join(', ')}`);
    const checked = checkDisplayText(input.name, { min: 1, max: 100 });
    if ('problem' in checked) throw new ValidationError('name', `name ${checked.problem}`);
    const redirectUris = input.redirectUris ?? [];
    if (type === 'connector' && redirectUris.length === 0) throw new ValidationError('redirect_uris', 'a connector needs at least one redirect URI');
    for (const [i, uri] of redirectUris.entries()) {
      const problem = redirectUriProblem(uri);
      if (problem) throw new ValidationError(`redirect_uris[${i}]`, `redirect URI ${uri} ${problem}`);
    }
    const scopes = input.scopes ?? [];
    const unknown = scopes.filter((s) => !this.catalog.isKnown(s));
    if (unknown.length > 0) throw new ValidationError('scopes', `unknown scope ${unknown.join(', ')}`);
    return {
      id: input.id ?? `cli_${randomBase62(20)}`,
      name: checked.value,
      type,
      secretHash: input.secretHash,
      redirectUris: type === 'connector' ? [...new Set(redirectUris)] : [],
      scopes: [...new Set(scopes)].sort(),
      disabled: input.disabled ?? false,
      orgId: type === 'resource_server' ? (input.orgId ?? null) : null,
      createdAt: this.clock.now(),
    };
  }

  /**
   * Stores a registration (see registration), or brings a stored client to it; a change reaches
   * every instance's caches of client records and of the client's bearers.
   */
  async register(client: OAuthClient, existing: OAuthClient | null): Promise<'created' | 'updated' | 'unchanged'> {
    if (!existing) {
      await this.clients.insert(client);
      return 'created';
    }
    const patch: ClientPatch = {};
    if (existing.name !== client.name) patch.name = client.name;
    if (existing.secretHash !== client.secretHash) patch.secretHash = client.secretHash;
    if (existing.redirectUris.join(' ') !== client.redirectUris.join(' ')) patch.redirectUris = client.redirectUris;
    if (existing.scopes.join(' ') !== client.scopes.join(' ')) patch.scopes = client.scopes;
    if (existing.disabled !== client.disabled) patch.disabled = client.disabled;
    if (existing.orgId !== client.orgId) patch.orgId = client.orgId;
    if (Object.keys(patch).length === 0) return 'unchanged';
    await this.clients.update(client.id, patch);
    await this.events.publish({ kind: 'client', id: client.id });
    return 'updated';
  }

  /** A disabled client's tokens stop working at once, on every instance. */
  async setDisabled(id: string, disabled: boolean): Promise<OAuthClient | null> {
    const client = await this.clients.update(id, { disabled });
    if (client) await this.events.publish({ kind: 'client', id });
    return client;
  }
}
