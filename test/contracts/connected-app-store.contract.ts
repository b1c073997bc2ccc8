/**
 * One contract for every ConnectedAppStore: the memory store (test/unit) and the MongoDB store
 * (test/integration) run these same cases.
 */
import { beforeEach, describe, expect, it } from '@jest/globals';
import { newId } from '../../src/domain/ids.ts';
import type { ConnectedApp } from '../../src/domain/oauth.ts';
import type { ConnectedAppStore } from '../../src/ports.ts';

const at = (iso: string): Date => new Date(iso);

function connectedApp(overrides: Partial<ConnectedApp> = {}): ConnectedApp {
  return {
    id: newId('grt'),
    userId: 'usr_contract',
    orgId: 'org_contract',
    clientId: 'cli_zapier',
    scopes: ['openid', 'keys:read'],
    limits: { rateLimitPerMinute: null, rateLimitPerDay: null, dailySpendCap: null },
    createdAt: at('2026-01-02T03:04:05.678Z'),
    lastUsedAt: null,
    revokedAt: null,
    ...overrides,
  };
}

export function describeConnectedAppStore(name: string, open: () => Promise<ConnectedAppStore>): void {
  describe(`${name}: connected app store contract`, () => {
    let store: ConnectedAppStore;
    beforeEach(async () => {
      store = await open();
    });

    describe('upsert of a new grant, and findById', () => {
      it('inserts a grant, returns it, and reads back every field', async () => {
        const app = connectedApp();
        expect(await store.upsert(app)).toEqual(app);
        expect(await store.findById(app.id)).toEqual(app);
      });

      it('reads back every field of a grant with everything optional set', async () => {
        const app = connectedApp({
          scopes: [],
          lastUsedAt: at('2026-01-03T00:00:00.001Z'),
          revokedAt: at('2026-06-01T12:00:00.000Z'),
        });
        expect(await store.upsert(app)).toEqual(app);
        expect(await store.findById(app.id)).toEqual(app);
        // Authentication's lookup leaves the last use out: it lives apart and costs another read.
        const { lastUsedAt: _lastUsed, ...record } = app;
        expect(await store.findRecord(app.id)).toEqual(record);
      });

      it('keeps scopes exactly, in order', async () => {
        const app = connectedApp({ scopes: ['usage:read', 'openid', 'offline_access', 'keys:write'] });
        await store.upsert(app);
        expect((await store.findById(app.id))?.scopes).toEqual(['usage:read', 'openid', 'offline_access', 'keys:write']);
      });

      it('answers null for an unknown id', async () => {
        expect(await store.findById('grt_missing')).toBeNull();
        expect(await store.findRecord('grt_missing')).toBeNull();
      });

      it('returns copies: changing a returned grant changes nothing stored', async () => {
        const app = connectedApp({ lastUsedAt: at('2026-01-05T00:00:00Z') });
        const original = structuredClone(app);
        const returned = await store.upsert(app);
        // Neither the upserted object nor the returned one is kept.
        app.scopes.push('inserted:later');
        app.createdAt.setFullYear(2000);
        returned.scopes.push('returned');
        returned.lastUsedAt!.setFullYear(2001);
        const read = (await store.findById(app.id))!;
        read.userId = 'usr_mutated';
        read.scopes.length = 0;
        read.createdAt.setFullYear(1999);
        const byUser = await store.listForUser(app.userId);
        byUser[0]!.scopes.push('listed');
        const byOrg = await store.listForOrg(app.orgId);
        byOrg[0]!.revokedAt = at('2026-01-06T00:00:00Z');
        expect(await store.findById(app.id)).toEqual(original);

        const extended = await store.upsert({ ...original, scopes: ['openid'] });
        extended.scopes.push('extended');
        const revoked = (await store.revoke(app.id, at('2026-02-01T00:00:00Z')))!;
        revoked.revokedAt!.setFullYear(2030);
        revoked.scopes.push('revoked');
        expect(await store.findById(app.id)).toEqual({ ...original, scopes: ['openid'], revokedAt: at('2026-02-01T00:00:00Z') });
      });
    });

    describe('upsert of an existing grant', () => {
      it('replaces the scopes of a live grant and keeps everything else', async () => {
        const app = connectedApp({ scopes: ['openid'] });
        await store.upsert(app);
        await store.touchLastUsed(app.id, at('2026-01-04T00:00:00Z'));
        const again = connectedApp({
          id: app.id,
          userId: 'usr_other',
          orgId: 'org_other',
          clientId: 'cli_other',
          scopes: ['openid', 'keys:read', 'usage:read'],
          createdAt: at('2026-03-03T00:00:00Z'),
          lastUsedAt: at('2026-03-04T00:00:00Z'),
          // Not a revocation: an upsert of a live grant changes its scopes only.
          revokedAt: at('2026-03-05T00:00:00Z'),
        });
        const expected = { ...app, scopes: ['openid', 'keys:read', 'usage:read'], lastUsedAt: at('2026-01-04T00:00:00Z') };
        expect(await store.upsert(again)).toEqual(expected);
        expect(await store.findById(app.id)).toEqual(expected);
        expect(await store.listForUser(app.userId, app.orgId)).toEqual([expected]);
        expect(await store.listForUser('usr_other')).toEqual([]);
      });

      it('can narrow the scopes, down to none', async () => {
        const app = connectedApp({ scopes: ['openid', 'keys:read'] });
        await store.upsert(app);
        expect(await store.upsert({ ...app, scopes: ['keys:read'] })).toEqual({ ...app, scopes: ['keys:read'] });
        expect(await store.upsert({ ...app, scopes: [] })).toEqual({ ...app, scopes: [] });
        expect(await store.findById(app.id)).toEqual({ ...app, scopes: [] });
      });

      it('leaves a revoked grant revoked and unchanged, and answers it as it is', async () => {
        const app = connectedApp({ scopes: ['openid'] });
        await store.upsert(app);
        const revokedAt = at('2026-02-02T00:00:00Z');
        await store.revoke(app.id, revokedAt);
        const stored = { ...app, revokedAt };
        expect(await store.upsert({ ...app, scopes: ['openid', 'keys:write'] })).toEqual(stored);
        expect(await store.upsert({ ...app, scopes: ['openid', 'keys:write'], revokedAt: null })).toEqual(stored);
        expect(await store.findById(app.id)).toEqual(stored);
        expect(await store.listForUser(app.userId)).toEqual([]);
        expect(await store.listForOrg(app.orgId)).toEqual([]);
      });

      it('leaves a grant inserted revoked revoked', async () => {
        const app = connectedApp({ revokedAt: at('2026-01-10T00:00:00Z') });
        await store.upsert(app);
        expect(await store.upsert({ ...app, scopes: ['admin'], revokedAt: null })).toEqual(app);
        expect(await store.findById(app.id)).toEqual(app);
      });

      it('stores one grant under concurrent upserts of a new id, each answering the stored grant', async () => {
        const app = connectedApp();
        const variants = Array.from({ length: 6 }, (_, i) => ({ ...app, scopes: [`scope:${i}`] }));
        const results = await Promise.all(variants.map((v) => store.upsert(v)));
        const stored = (await store.findById(app.id))!;
        expect(variants.map((v) => v.scopes)).toContainEqual(stored.scopes);
        expect(stored).toEqual({ ...app, scopes: stored.scopes });
        for (const result of results) expect(result).toEqual({ ...app, scopes: result.scopes });
        expect(await store.listForUser(app.userId)).toEqual([stored]);
      });

      it('never undoes a revocation that races upserts of the same grant', async () => {
        const app = connectedApp();
        await store.upsert(app);
        const revokedAt = at('2026-02-02T00:00:00Z');
        const upserts = Array.from({ length: 4 }, (_, i) => store.upsert({ ...app, scopes: [`scope:${i}`] }));
        const [revoked] = await Promise.all([store.revoke(app.id, revokedAt), ...upserts]);
        expect(revoked?.revokedAt).toEqual(revokedAt);
        expect((await store.findById(app.id))?.revokedAt).toEqual(revokedAt);
        expect(await store.listForUser(app.userId)).toEqual([]);
      });
    });

    describe('listForUser and listForOrg', () => {
      it('lists a user’s grants in every organization, newest first, ties on createdAt by id descending (code units)', async () => {
        const userId = newId('usr');
        const older = connectedApp({ userId, orgId: 'org_a', createdAt: at('2026-01-01T00:00:00Z') });
        const newest = connectedApp({ userId, orgId: 'org_b', createdAt: at('2026-03-01T00:00:00Z') });
        // 'a' (0x61) sorts after 'B' (0x42) by code unit, so it comes first descending; a locale
        // comparison would put 'B' first.
        const tieLower = connectedApp({ userId, orgId: 'org_a', id: 'grt_tie_a', createdAt: at('2026-02-01T00:00:00Z') });
        const tieUpper = connectedApp({ userId, orgId: 'org_b', id: 'grt_tie_B', createdAt: at('2026-02-01T00:00:00Z') });
        const someoneElse = connectedApp({ userId: newId('usr'), orgId: 'org_a', createdAt: at('2026-04-01T00:00:00Z') });
        for (const a of [tieUpper, older, someoneElse, newest, tieLower]) await store.upsert(a);
        expect(await store.listForUser(userId)).toEqual([newest, tieLower, tieUpper, older]);
        expect(await store.listForUser(newId('usr'))).toEqual([]);
      });

      it('lists only one organization’s grants of a user when asked', async () => {
        const userId = newId('usr');
        const orgId = newId('org');
        const mine1 = connectedApp({ userId, orgId, createdAt: at('2026-01-01T00:00:00Z') });
        const mine2 = connectedApp({ userId, orgId, clientId: 'cli_make', createdAt: at('2026-01-03T00:00:00Z') });
        const mineElsewhere = connectedApp({ userId, orgId: newId('org'), createdAt: at('2026-01-02T00:00:00Z') });
        const theirsHere = connectedApp({ userId: newId('usr'), orgId, createdAt: at('2026-01-04T00:00:00Z') });
        for (const a of [mine1, mineElsewhere, theirsHere, mine2]) await store.upsert(a);
        expect(await store.listForUser(userId, orgId)).toEqual([mine2, mine1]);
        expect(await store.listForUser(userId)).toEqual([mine2, mineElsewhere, mine1]);
        expect(await store.listForUser(userId, newId('org'))).toEqual([]);
      });

      it('lists an organization’s grants of every user, newest first, and no other organization’s', async () => {
        const orgId = newId('org');
        const first = connectedApp({ userId: 'usr_one', orgId, createdAt: at('2026-01-01T00:00:00Z') });
        const second = connectedApp({ userId: 'usr_two', orgId, clientId: 'cli_make', createdAt: at('2026-01-02T00:00:00Z') });
        const tieLower = connectedApp({ userId: 'usr_one', orgId, id: 'grt_org_tie_a', createdAt: at('2026-01-03T00:00:00Z') });
        const tieUpper = connectedApp({ userId: 'usr_two', orgId, id: 'grt_org_tie_B', createdAt: at('2026-01-03T00:00:00Z') });
        const elsewhere = connectedApp({ userId: 'usr_one', orgId: newId('org'), createdAt: at('2026-01-05T00:00:00Z') });
        for (const a of [second, elsewhere, tieUpper, first, tieLower]) await store.upsert(a);
        expect(await store.listForOrg(orgId)).toEqual([tieLower, tieUpper, second, first]);
        expect(await store.listForOrg(newId('org'))).toEqual([]);
      });

      it('leaves revoked grants out, whether inserted revoked or revoked later', async () => {
        const userId = newId('usr');
        const orgId = newId('org');
        const kept = connectedApp({ userId, orgId, createdAt: at('2026-01-01T00:00:00Z') });
        const insertedRevoked = connectedApp({ userId, orgId, revokedAt: at('2026-01-05T00:00:00Z') });
        const revokedLater = connectedApp({ userId, orgId, createdAt: at('2026-01-02T00:00:00Z') });
        for (const a of [kept, insertedRevoked, revokedLater]) await store.upsert(a);
        await store.revoke(revokedLater.id, at('2026-02-01T00:00:00Z'));
        expect(await store.listForUser(userId)).toEqual([kept]);
        expect(await store.listForUser(userId, orgId)).toEqual([kept]);
        expect(await store.listForOrg(orgId)).toEqual([kept]);
      });

      it('answers each grant with its last use', async () => {
        const userId = newId('usr');
        const orgId = newId('org');
        const used = connectedApp({ userId, orgId, createdAt: at('2026-01-02T00:00:00Z') });
        const unused = connectedApp({ userId, orgId, createdAt: at('2026-01-01T00:00:00Z') });
        for (const a of [used, unused]) await store.upsert(a);
        await store.touchLastUsed(used.id, at('2026-01-09T09:09:09.009Z'));
        const expected = [{ ...used, lastUsedAt: at('2026-01-09T09:09:09.009Z') }, unused];
        expect(await store.listForUser(userId)).toEqual(expected);
        expect(await store.listForUser(userId, orgId)).toEqual(expected);
        expect(await store.listForOrg(orgId)).toEqual(expected);
      });
    });

    describe('revoke', () => {
      it('revokes a live grant once: the second revocation answers null and changes nothing', async () => {
        const app = connectedApp();
        await store.upsert(app);
        await store.touchLastUsed(app.id, at('2026-01-03T00:00:00Z'));
        const revokedAt = at('2026-02-02T02:02:02.002Z');
        const expected = { ...app, lastUsedAt: at('2026-01-03T00:00:00Z'), revokedAt };
        expect(await store.revoke(app.id, revokedAt)).toEqual(expected);
        expect(await store.revoke(app.id, at('2026-03-03T00:00:00Z'))).toBeNull();
        expect(await store.findById(app.id)).toEqual(expected);
      });

      it('answers null for a grant inserted revoked', async () => {
        const app = connectedApp({ revokedAt: at('2026-01-10T00:00:00Z') });
        await store.upsert(app);
        expect(await store.revoke(app.id, at('2026-02-01T00:00:00Z'))).toBeNull();
        expect(await store.findById(app.id)).toEqual(app);
      });

      it('answers null for an unknown id, and creates nothing', async () => {
        expect(await store.revoke('grt_missing', at('2026-02-01T00:00:00Z'))).toBeNull();
        expect(await store.findById('grt_missing')).toBeNull();
        expect(await store.findRecord('grt_missing')).toBeNull();
      });

      it('lets exactly one of concurrent revocations win', async () => {
        const app = connectedApp();
        await store.upsert(app);
        const results = await Promise.all(
          Array.from({ length: 6 }, (_, i) => store.revoke(app.id, at(`2026-02-0${i + 1}T00:00:00Z`))),
        );
        const winners = results.filter((r) => r !== null);
        expect(winners).toHaveLength(1);
        expect((await store.findById(app.id))?.revokedAt).toEqual(winners[0]!.revokedAt);
      });
    });

    describe('touchLastUsed', () => {
      it('sets lastUsedAt from null, and never moves it backwards', async () => {
        const app = connectedApp();
        await store.upsert(app);
        await store.touchLastUsed(app.id, at('2026-05-05T00:00:02.002Z'));
        expect((await store.findById(app.id))?.lastUsedAt).toEqual(at('2026-05-05T00:00:02.002Z'));
        await store.touchLastUsed(app.id, at('2026-05-05T00:00:01Z'));
        expect((await store.findById(app.id))?.lastUsedAt).toEqual(at('2026-05-05T00:00:02.002Z'));
        await store.touchLastUsed(app.id, at('2026-05-05T00:00:03Z'));
        expect((await store.findById(app.id))?.lastUsedAt).toEqual(at('2026-05-05T00:00:03Z'));
      });

      it('keeps a use given at insert unless a later one comes', async () => {
        const app = connectedApp({ lastUsedAt: at('2026-05-05T00:00:05Z') });
        await store.upsert(app);
        await store.touchLastUsed(app.id, at('2026-05-05T00:00:04Z'));
        expect((await store.findById(app.id))?.lastUsedAt).toEqual(at('2026-05-05T00:00:05Z'));
        await store.touchLastUsed(app.id, at('2026-05-05T00:00:06Z'));
        expect((await store.findById(app.id))?.lastUsedAt).toEqual(at('2026-05-05T00:00:06Z'));
      });

      it('keeps the latest of concurrent touches and changes nothing else', async () => {
        const app = connectedApp();
        await store.upsert(app);
        const times = Array.from({ length: 10 }, (_, i) => at(`2026-05-05T00:00:${String(10 + i)}Z`)).reverse();
        await Promise.all(times.map((t) => store.touchLastUsed(app.id, t)));
        expect(await store.findById(app.id)).toEqual({ ...app, lastUsedAt: at('2026-05-05T00:00:19Z') });
      });

      it('never undoes a concurrent revocation', async () => {
        const app = connectedApp();
        await store.upsert(app);
        const revokedAt = at('2026-05-05T12:00:00Z');
        const touch = (i: number) => store.touchLastUsed(app.id, at(`2026-05-05T00:00:0${i}Z`));
        // Interleaved: four touches start before the revocation, four after it, none awaited.
        const before = [0, 1, 2, 3].map(touch);
        const revocation = store.revoke(app.id, revokedAt);
        const after = [4, 5, 6, 7].map(touch);
        const [revoked] = await Promise.all([revocation, ...before, ...after]);
        expect(revoked).toEqual(expect.objectContaining({ id: app.id, revokedAt }));
        expect(await store.findById(app.id)).toEqual({ ...app, revokedAt, lastUsedAt: at('2026-05-05T00:00:07Z') });
        expect(await store.listForUser(app.userId)).toEqual([]);
        expect(await store.listForOrg(app.orgId)).toEqual([]);
      });

      it('does nothing for an unknown id', async () => {
        await store.touchLastUsed('grt_missing', at('2026-05-05T00:00:00Z'));
        expect(await store.findById('grt_missing')).toBeNull();
        expect(await store.findRecord('grt_missing')).toBeNull();
      });
    });

    describe('setLimits', () => {
      it('sets a live grant’s own limits, reads them back, and leaves a revoked grant alone', async () => {
        const live = connectedApp();
        const revoked = connectedApp({ revokedAt: at('2026-01-03T00:00:00Z') });
        await store.upsert(live);
        await store.upsert(revoked);
        const limits = { rateLimitPerMinute: 100, rateLimitPerDay: 10_000, dailySpendCap: 50 };
        expect(await store.setLimits(live.id, limits)).toEqual({ ...live, limits });
        expect(await store.findById(live.id)).toEqual({ ...live, limits });
        expect((await store.findRecord(live.id))?.limits).toEqual(limits);
        expect(await store.setLimits(revoked.id, limits)).toBeNull();
        expect((await store.findById(revoked.id))?.limits).toEqual(revoked.limits);
        expect(await store.setLimits('grt_missing', limits)).toBeNull();
      });
    });
  });
}
