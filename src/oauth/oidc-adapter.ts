import type { Adapter, AdapterPayload } from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { Clock, ClientStore, OAuthModelStore } from '../ports.ts';
import { clientMetadata } from './client-metadata.ts';

/**
 * The models oidc-provider consumes (those built with its consumable mixin). Only their records
 * carry `consumed`, so only they are read with their consumption; every other model (a Grant, a
 * Session, an AccessToken) is read without it, one store read fewer. Their consumption is
 * exactly-once: a second redemption revokes the grant.
 */
const CONSUMABLE = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PushedAuthorizationRequest', 'PreAuthorizedCode']);

export interface AdapterDeps {
  store: OAuthModelStore;
  clients: Pick<ClientStore, 'findById'>;
  clock: Clock;
  /** Ends a grant everywhere: its records, its connected app, and every instance's caches. */
  revokeGrant: (grantId: string) => Promise<void>;
  /**
   * Consumable models that oidc-provider consumes on every use before it answers (refresh tokens,
   * where it rotates them all): they are read without their consumption, one store read fewer,
   * since consume() — the atomic decision here — answers a second use as the provider's check of
   * `consumed` would: the grant revoked, invalid_grant.
   */
  consumedOnEveryUse?: ReadonlySet<string>;
}

/**
 * oidc-provider's persistence, on the OAuthModelStore port (memory or MongoDB).
 *
 * oidc-provider redeems a code or a refresh token by reading it, checking `consumed`, then calling
 * consume(): two concurrent redemptions can both pass the check. Here consume() is the atomic
 * decision (a unique insert): the loser's grant is revoked and it gets invalid_grant, so of N
 * concurrent redemptions exactly one yields tokens (RFC 6749 §4.1.2: a code used twice should
 * revoke the tokens issued on it).
 *
 * Clients are not oidc-provider records: the 'Client' model reads Tessera's client registry, and
 * a disabled client does not exist for the provider.
 */
export function adapterFactory(deps: AdapterDeps): new (name: string) => Adapter {
  return class TesseraOidcAdapter implements Adapter {
    private readonly name: string;

    constructor(name: string) {
      this.name = name;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const expiresAt = expiresIn ? new Date(deps.clock.now().getTime() + expiresIn * 1000) : null;
      await deps.store.upsert(this.name, id, payload as Record<string, unknown>, expiresAt);
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.name === 'Client') {
        const client = await deps.clients.findById(id);
        return client && !client.disabled ? (clientMetadata(client) as AdapterPayload) : undefined;
      }
      if (!CONSUMABLE.has(this.name) || deps.consumedOnEveryUse?.has(this.name)) return withConsumed(await deps.store.peek(this.name, id));
      return withConsumed(await deps.store.find(this.name, id));
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return withConsumed(await deps.store.findByUid(this.name, uid));
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return withConsumed(await deps.store.findByUserCode(this.name, userCode));
    }

    async consume(id: string): Promise<void> {
      const won = await deps.store.consume(this.name, id, deps.clock.now());
      if (won || !CONSUMABLE.has(this.name)) return;
      const record = await deps.store.find(this.name, id);
      const grantId = record?.payload.grantId;
      if (typeof grantId === 'string') await deps.revokeGrant(grantId);
      throw new errors.InvalidGrant(`${this.name === 'RefreshToken' ? 'refresh token' : 'authorization code'} already used`);
    }

    async destroy(id: string): Promise<void> {
      // A grant destroyed is a grant revoked (helpers/revoke.js destroys it only then): one path.
      if (this.name === 'Grant') return deps.revokeGrant(id);
      await deps.store.destroy(this.name, id);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await deps.revokeGrant(grantId);
    }
  };
}

function withConsumed(record: { payload: Record<string, unknown>; consumedAt?: Date | null } | null): AdapterPayload | undefined {
  if (!record) return undefined;
  const payload = { ...record.payload } as AdapterPayload;
  if (record.consumedAt) payload.consumed = Math.floor(record.consumedAt.getTime() / 1000);
  return payload;
}
