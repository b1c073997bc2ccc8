/**
 * One contract for every ClientStore: the memory store (test/unit) and the MongoDB store
 * (test/integration) run these same cases.
 */
import { beforeEach, describe, expect, it } from '@jest/globals';
import { expectConflict } from './expect-conflict.ts';
import { createHash } from 'node:crypto';
import { newId } from '../../src/domain/ids.ts';
import type { OAuthClient } from '../../src/domain/oauth.ts';
import type { ClientStore } from '../../src/ports.ts';

const at = (iso: string): Date => new Date(iso);

function client(overrides: Partial<OAuthClient> = {}): OAuthClient {
  return {
    id: newId('cli'),
    name: 'Zapier',
    type: 'connector',
    secretHash: createHash('sha256').update(newId('cli')).digest('hex'),
    redirectUris: ['https://zapier.com/dashboard/auth/oauth/return/App123CLIAPI/', 'https://example.com/cb?x=1'],
    scopes: ['openid', 'keys:read', 'usage:read'],
    disabled: false,
    orgId: null,
    createdAt: at('2026-01-02T03:04:05.678Z'),
    ...overrides,
  };
}


export function describeClientStore(name: string, open: () => Promise<ClientStore>): void {
  describe(`${name}: OAuth client store contract`, () => {
    let store: ClientStore;
    beforeEach(async () => {
      store = await open();
    });

    describe('insert and findById', () => {
      it('reads back every field of a connector', async () => {
        const c = client();
        await store.insert(c);
        expect(await store.findById(c.id)).toEqual(c);
      });

      it('reads back every field of a disabled resource server with no redirect URIs and no scopes', async () => {
        const c = client({ name: 'Billing API', type: 'resource_server', redirectUris: [], scopes: [], disabled: true });
        await store.insert(c);
        expect(await store.findById(c.id)).toEqual(c);
      });

      it('keeps redirect URIs and scopes exactly, in order, duplicates and case included', async () => {
        const c = client({
          redirectUris: ['https://b.example/cb', 'https://A.example/cb/', 'https://a.example/cb', 'https://b.example/cb'],
          scopes: ['usage:read', 'openid', 'usage:read'],
        });
        await store.insert(c);
        const read = await store.findById(c.id);
        expect(read?.redirectUris).toEqual(c.redirectUris);
        expect(read?.scopes).toEqual(c.scopes);
      });

      it('refuses a client whose id is taken (field id), and keeps the original', async () => {
        const first = client();
        await store.insert(first);
        await expectConflict(store.insert(client({ id: first.id, name: 'Impostor', type: 'resource_server' })), 'id');
        expect(await store.findById(first.id)).toEqual(first);
        expect(await store.list()).toEqual([first]);
      });

      it('answers null for an unknown id', async () => {
        expect(await store.findById('cli_missing')).toBeNull();
      });

      it('returns copies: changing a returned client changes nothing stored', async () => {
        const c = client();
        const original = structuredClone(c);
        await store.insert(c);
        // The inserted object is not kept either.
        c.scopes.push('inserted:later');
        c.redirectUris.push('https://inserted.example/cb');
        c.createdAt.setFullYear(2000);
        const read = (await store.findById(c.id))!;
        read.name = 'mutated';
        read.scopes.push('admin');
        read.redirectUris[0] = 'https://evil.example/cb';
        read.createdAt.setFullYear(1999);
        const listed = await store.list();
        listed[0]!.scopes.length = 0;
        listed[0]!.redirectUris.push('https://listed.example/cb');
        expect(await store.findById(c.id)).toEqual(original);

        const patch = { scopes: ['openid'], redirectUris: ['https://patched.example/cb'] };
        const updated = (await store.update(c.id, patch))!;
        // Neither the patch object nor the returned one is kept.
        patch.scopes.push('patched:later');
        patch.redirectUris.push('https://patched-later.example/cb');
        updated.scopes.push('updated');
        updated.redirectUris.push('https://updated.example/cb');
        expect(await store.findById(c.id)).toEqual({ ...original, scopes: ['openid'], redirectUris: ['https://patched.example/cb'] });
      });
    });

    describe('update', () => {
      it('changes every patchable field, returns the updated client and persists it', async () => {
        const c = client();
        await store.insert(c);
        const patch = {
          name: 'Zapier (new)',
          secretHash: 'f'.repeat(64),
          redirectUris: ['https://hooks.zapier.com/cb'],
          scopes: ['openid'],
          disabled: true,
        };
        const updated = await store.update(c.id, patch);
        expect(updated).toEqual({ ...c, ...patch });
        expect(await store.findById(c.id)).toEqual(updated);
      });

      it('changes only the fields given', async () => {
        const c = client();
        await store.insert(c);
        expect(await store.update(c.id, { disabled: true })).toEqual({ ...c, disabled: true });
        expect(await store.update(c.id, { secretHash: 'e'.repeat(64) })).toEqual({ ...c, disabled: true, secretHash: 'e'.repeat(64) });
        expect(await store.findById(c.id)).toEqual({ ...c, disabled: true, secretHash: 'e'.repeat(64) });
      });

      it('ignores fields given as undefined, and can empty the lists and re-enable', async () => {
        const c = client({ disabled: true });
        await store.insert(c);
        const updated = await store.update(c.id, { name: undefined, redirectUris: [], scopes: [], disabled: false });
        expect(updated).toEqual({ ...c, redirectUris: [], scopes: [], disabled: false });
        expect(await store.findById(c.id)).toEqual(updated);
      });

      it('answers the client unchanged for an empty patch', async () => {
        const c = client();
        await store.insert(c);
        expect(await store.update(c.id, {})).toEqual(c);
      });

      it('answers null for an unknown id, and creates nothing', async () => {
        expect(await store.update('cli_missing', { name: 'x' })).toBeNull();
        expect(await store.update('cli_missing', {})).toBeNull();
        expect(await store.findById('cli_missing')).toBeNull();
        expect(await store.list()).toEqual([]);
      });

      it('keeps both of two concurrent updates of different fields', async () => {
        const c = client();
        await store.insert(c);
        await Promise.all([store.update(c.id, { disabled: true }), store.update(c.id, { secretHash: 'd'.repeat(64) })]);
        expect(await store.findById(c.id)).toEqual({ ...c, disabled: true, secretHash: 'd'.repeat(64) });
      });
    });

    describe('list', () => {
      it('answers an empty list when there are no clients', async () => {
        expect(await store.list()).toEqual([]);
      });

      it('lists every client oldest first, with ties on createdAt by id ascending (code units, not locale)', async () => {
        const oldest = client({ createdAt: at('2025-12-01T00:00:00Z'), disabled: true });
        const newest = client({ createdAt: at('2026-03-01T00:00:00Z'), type: 'resource_server' });
        // 'B' (0x42) sorts before 'a' (0x61) by code unit; a locale comparison puts 'a' first.
        const tieLower = client({ id: 'cli_tie_a', createdAt: at('2026-02-01T00:00:00Z') });
        const tieUpper = client({ id: 'cli_tie_B', createdAt: at('2026-02-01T00:00:00Z') });
        for (const c of [tieLower, newest, oldest, tieUpper]) await store.insert(c);
        expect(await store.list()).toEqual([oldest, tieUpper, tieLower, newest]);
      });
    });
  });
}
