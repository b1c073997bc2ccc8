/**
 * Both ends of the bearer-event contract (src/domain/bearer-event.ts): every kind of event the
 * server publishes, made by the server's own services, is read by the kit and drops exactly the
 * kit's entries it concerns — no more, no fewer.
 */
import { describe, expect, it } from '@jest/globals';
import { createServices, openMemoryStores } from '../../../src/app.ts';
import { BEARER_EVENT_KINDS, BEARER_EVENTS_CHANNEL } from '../../../src/domain/bearer-event.ts';
import { hashKey } from '../../../src/domain/key-hash.ts';
import { operatorActor } from '../../../src/services/accounts/operator-actor.ts';
import { PrincipalCache, parseBearerEvent } from '../../../kit/principal-cache.ts';
import type { Principal } from '../../../kit/principal.ts';
import { FrozenClock } from '../../support/frozen-clock.ts';
import { recordSecret } from '../../support/log-capture.ts';
import { testConfig } from '../../support/test-config.ts';

const ISSUER = 'http://tessera.test';

function kitPrincipal(fields: { sub: string; org_id: string; key_id?: string; client_id?: string; grant_id?: string }): Principal {
  const kind = fields.key_id ? 'api_key' : 'oauth';
  return { active: true, kind, scope: '', scopes: [], iat: 0, iss: ISSUER, token_type: 'Bearer', ...fields } as Principal;
}

describe('bearer events, server to kit', () => {
  it('every kind the server publishes is understood by the kit, and drops exactly the entries it concerns', async () => {
    const clock = new FrozenClock();
    const stores = openMemoryStores(clock);
    const services = createServices(stores, testConfig({ TESSERA_SCOPES: 'leads:read' }), { clock });
    const messages: string[] = [];
    await stores.ephemeral.subscribe(BEARER_EVENTS_CHANNEL, (message) => messages.push(message));
    const published = async (act: () => Promise<unknown>): Promise<string> => {
      const before = messages.length;
      await act();
      await new Promise((r) => setImmediate(r));
      expect(messages.length).toBe(before + 1);
      return messages.at(-1)!;
    };

    const { accounts, apiKeys, clients, connectedApps } = services;
    const org = await accounts.createOrganization({ name: 'Acme' });
    const other = await accounts.createOrganization({ name: 'Globex' });
    const user = await accounts.createUser({ email: 'kit-events@example.com' });
    const bystander = await accounts.createUser({ email: 'bystander@example.com' });
    await accounts.setMembership(user.id, org.id, 'owner');
    await accounts.setMembership(bystander.id, other.id, 'owner');
    const actor = await operatorActor(stores, services.catalog, user.id, org.id);
    const key = await apiKeys.create(actor, { name: 'k' });
    recordSecret(key.secret);
    const client = await clients.create({ name: 'Zapier', redirectUris: ['https://zapier.example/cb'], scopes: ['leads:read'] });
    recordSecret(client.secret);
    await connectedApps.recordConsent({ grantId: 'grant_1', userId: user.id, orgId: org.id, clientId: client.client.id, scopes: ['leads:read'] }, actor);

    // The kit's cache: the user's key and token, and a bystander's, who no event concerns.
    const entries = {
      key: kitPrincipal({ sub: user.id, org_id: org.id, key_id: key.record.id }),
      token: kitPrincipal({ sub: user.id, org_id: org.id, client_id: client.client.id, grant_id: 'grant_1' }),
      bystander: kitPrincipal({ sub: bystander.id, org_id: other.id, key_id: 'key_other' }),
    };
    const hashes = { key: hashKey(key.secret), token: 'b'.repeat(64), bystander: 'c'.repeat(64) };
    const fill = (): PrincipalCache => {
      const cache = new PrincipalCache(100);
      for (const name of ['key', 'token', 'bystander'] as const) cache.set(hashes[name], entries[name], 1_000, 0);
      return cache;
    };
    const dropped = (message: string): string[] => {
      const cache = fill();
      const event = parseBearerEvent(message);
      expect(event).not.toBeNull();
      cache.invalidate(event!);
      return (['key', 'token', 'bystander'] as const).filter((name) => cache.get(hashes[name], 1) === undefined);
    };

    const cases: Array<[string, string, string[]]> = [
      ['api_key', await published(() => apiKeys.update(actor, key.record.id, { name: 'renamed' })), ['key']],
      ['client', await published(() => clients.setDisabled(client.client.id, true)), ['token']],
      ['user', await published(() => accounts.setMembership(user.id, org.id, 'admin')), ['key', 'token']],
      ['organization', await published(() => accounts.updateOrganization(org.id, { disabled: true })), ['key', 'token']],
      ['grant', await published(() => connectedApps.revokeGrant('grant_1')), ['token']],
    ];
    expect(cases.map(([kind]) => kind).sort()).toEqual([...BEARER_EVENT_KINDS].sort());
    for (const [kind, message, expected] of cases) {
      expect({ kind, parsedKind: parseBearerEvent(message)?.kind, dropped: dropped(message) }).toEqual({ kind, parsedKind: kind, dropped: expected });
    }
    await stores.close();
  });
});
