import { beforeEach, describe, expect, it } from '@jest/globals';
import { createServices, openMemoryStores } from '../../../../src/app.ts';
import type { Config } from '../../../../src/config/index.ts';
import type { ApiKeyStore, Stores } from '../../../../src/ports.ts';
import type { Services } from '../../../../src/app.ts';
import { operatorActor } from '../../../../src/services/accounts/operator-actor.ts';
import { hashKey } from '../../../../src/domain/key-hash.ts';
import { RevocationMarkers } from '../../../../src/services/revocation/revocation-markers.ts';
import { FrozenClock } from '../../../support/frozen-clock.ts';
import { recordSecret } from '../../../support/log-capture.ts';
import { testConfig } from '../../../support/test-config.ts';

/** Counts lookups, so that tests can tell "refused before any lookup" from "looked up". */
function countingKeys(inner: ApiKeyStore): ApiKeyStore & { lookups: number; touches: number } {
  const counting = {
    lookups: 0,
    touches: 0,
    insert: (k: Parameters<ApiKeyStore['insert']>[0]) => inner.insert(k),
    findById: (id: string) => inner.findById(id),
    findByHash: (hash: string) => {
      counting.lookups++;
      return inner.findByHash(hash);
    },
    listForOrg: (orgId: string, filter?: { userId?: string }) => inner.listForOrg(orgId, filter),
    update: (...args: Parameters<ApiKeyStore['update']>) => inner.update(...args),
    touchLastUsed: (id: string, at: Date, from: string | null) => {
      counting.touches++;
      return inner.touchLastUsed(id, at, from);
    },
  };
  return counting;
}

let clock: FrozenClock;
let stores: Stores;
let keys: ReturnType<typeof countingKeys>;
let services: Services;
let config: Config;
let secret: string;

async function setUp(env: Record<string, string> = {}): Promise<void> {
  clock = new FrozenClock();
  const base = openMemoryStores(clock);
  keys = countingKeys(base.apiKeys);
  stores = { ...base, apiKeys: keys };
  config = testConfig({ TESSERA_AUTH_FAILURES_PER_MINUTE: '3', ...env });
  services = createServices(stores, config, { clock });
  const org = await services.accounts.createOrganization({ name: 'Acme' });
  const user = await services.accounts.createUser({ email: 'owner@example.com' });
  await services.accounts.setMembership(user.id, org.id, 'owner');
  const issued = await services.apiKeys.create(await operatorActor(stores, services.catalog, user.id, org.id), {});
  secret = recordSecret(issued.secret);
}

describe('Authenticator', () => {
  beforeEach(() => setUp());

  it('refuses a key of our shape with a failing checksum before any lookup', async () => {
    const tampered = recordSecret(secret.slice(0, 12) + (secret[12] === 'a' ? 'b' : 'a') + secret.slice(13));
    expect(await services.resolver.resolve(tampered)).toEqual({ status: 'inactive', reason: 'bad-checksum', kind: 'api_key' });
    expect(keys.lookups).toBe(0);
  });

  it('refuses malformed bearers before any lookup', async () => {
    for (const bad of ['', 'a b', 'x'.repeat(513), 'caf\u00e9']) {
      expect(await services.resolver.resolve(bad)).toEqual({ status: 'inactive', reason: 'malformed' });
    }
    expect(keys.lookups).toBe(0);
  });

  it('looks up keys of other shapes by hash (keys imported from another system)', async () => {
    expect(await services.resolver.resolve('legacy_0123456789abcdef0123456789abcdef')).toEqual({ status: 'inactive', reason: 'unknown' });
    expect(keys.lookups).toBe(1);
  });

  it('throttles an address’s failures after too many, until the window ends — never a usable bearer', async () => {
    for (let i = 0; i < 3; i++) expect((await services.authenticator.authenticate('nope', '10.0.0.1')).kind).toBe('unauthorized');
    const fourth = await services.authenticator.authenticate('nope', '10.0.0.1');
    expect(fourth).toEqual({ kind: 'throttled', retryAfterSeconds: 60 });
    expect(await services.authenticator.authenticate('still-nope', '10.0.0.1')).toEqual({ kind: 'throttled', retryAfterSeconds: 60 });
    expect(await services.authenticator.authenticate(null, '10.0.0.1')).toMatchObject({ kind: 'throttled' });
    expect((await services.authenticator.authenticate(secret, '10.0.0.1')).kind).toBe('authenticated');
    expect((await services.authenticator.authenticate('nope', '10.0.0.2')).kind).toBe('unauthorized');
    clock.advance(60_000);
    expect((await services.authenticator.authenticate('nope', '10.0.0.1')).kind).toBe('unauthorized');
  });

  it('writes lastUsedAt at most once per interval per key', async () => {
    for (let i = 0; i < 50; i++) expect((await services.authenticator.authenticate(secret, '10.0.0.3')).kind).toBe('authenticated');
    await new Promise((r) => setImmediate(r));
    expect(keys.touches).toBe(1);
    clock.advance(59_000);
    await services.authenticator.authenticate(secret, '10.0.0.3');
    expect(keys.touches).toBe(1);
    clock.advance(1_000);
    await services.authenticator.authenticate(secret, '10.0.0.3');
    await new Promise((r) => setImmediate(r));
    expect(keys.touches).toBe(2);
    const [stored] = await stores.apiKeys.listForOrg((await stores.memberships.listForUser((await stores.users.findByEmail('owner@example.com'))!.id))[0]!.orgId);
    expect(stored!.lastUsedAt).toEqual(clock.now());
  });

  it('answers a key Redis marks as revoked without asking the store', async () => {
    await new RevocationMarkers(stores.ephemeral, 86_400_000).markKey(hashKey(secret), null);
    expect(await services.resolver.resolve(secret)).toEqual({ status: 'inactive', reason: 'revoked', kind: 'api_key' });
    expect(keys.lookups).toBe(0);
  });
});
