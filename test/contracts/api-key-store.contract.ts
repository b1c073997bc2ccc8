/**
 * One contract for every ApiKeyStore: the memory store (test/unit) and the MongoDB store
 * (test/integration) run these same cases.
 */
import { beforeEach, describe, expect, it } from '@jest/globals';
import { expectConflict } from './expect-conflict.ts';
import { createHash } from 'node:crypto';
import type { ApiKey, ApiKeyRecord } from '../../src/domain/api-key.ts';
import { newId } from '../../src/domain/ids.ts';
import type { ApiKeyStore } from '../../src/ports.ts';

const at = (iso: string): Date => new Date(iso);

function apiKey(overrides: Partial<ApiKey> = {}): ApiKey {
  return {
    id: newId('key'),
    orgId: 'org_contract',
    userId: 'usr_contract',
    name: 'CI deploys',
    scopes: ['keys:read', 'usage:read'],
    env: 'live',
    hash: createHash('sha256').update(newId('key')).digest('hex'),
    start: 'tsr_live_Ab3d',
    active: true,
    createdAt: at('2026-01-02T03:04:05.678Z'),
    lastUsedAt: null,
    lastUsedFrom: null,
    expiresAt: null,
    revokedAt: null,
    limits: { rateLimitPerMinute: null, rateLimitPerDay: null, dailySpendCap: null },
    rotatedFrom: null,
    rotatedTo: null,
    disabledByRole: null,
    ...overrides,
  };
}


/** What findByHash answers: the key without its last use. */
function record(key: ApiKey): ApiKeyRecord {
  const { lastUsedAt: _lastUsed, lastUsedFrom: _from, ...rest } = key;
  return rest;
}

export function describeApiKeyStore(name: string, open: () => Promise<ApiKeyStore>): void {
  describe(`${name}: API key store contract`, () => {
    let store: ApiKeyStore;
    beforeEach(async () => {
      store = await open();
    });

    describe('insert and lookups', () => {
      it('reads back every field of a key with nothing optional set, by id and by hash', async () => {
        const k = apiKey();
        await store.insert(k);
        expect(await store.findById(k.id)).toEqual(k);
        expect(await store.findByHash(k.hash)).toEqual(record(k));
      });

      it('reads back every field of a key with everything optional set', async () => {
        const k = apiKey({
          name: null,
          scopes: [],
          env: 'test',
          start: null,
          active: false,
          lastUsedAt: at('2026-01-03T00:00:00.001Z'),
          expiresAt: at('2027-01-01T00:00:00.000Z'),
          revokedAt: at('2026-06-01T12:00:00.000Z'),
          limits: { rateLimitPerMinute: 120, rateLimitPerDay: 10_000, dailySpendCap: 250 },
          rotatedFrom: 'key_previous',
          rotatedTo: 'key_next',
          disabledByRole: 'owner',
        });
        await store.insert(k);
        expect(await store.findById(k.id)).toEqual(k);
        // Authentication's lookup leaves the last use out: it lives apart and costs another read.
        expect(await store.findByHash(k.hash)).toEqual(record(k));
      });

      it('keeps one limit set and the other null, and a zero limit as zero', async () => {
        const k = apiKey({ limits: { rateLimitPerMinute: 0, rateLimitPerDay: null, dailySpendCap: null } });
        await store.insert(k);
        expect((await store.findById(k.id))?.limits).toEqual({ rateLimitPerMinute: 0, rateLimitPerDay: null, dailySpendCap: null });
      });

      it('refuses a key whose hash is already stored (field hash), and keeps the original', async () => {
        const first = apiKey();
        await store.insert(first);
        await expectConflict(store.insert(apiKey({ hash: first.hash, name: 'impostor' })), 'hash');
        expect(await store.findByHash(first.hash)).toEqual(record(first));
      });

      it('refuses a key whose id is taken (field id), and keeps the original', async () => {
        const first = apiKey();
        await store.insert(first);
        const second = apiKey({ id: first.id, name: 'other' });
        await expectConflict(store.insert(second), 'id');
        expect(await store.findById(first.id)).toEqual(first);
        expect(await store.findByHash(second.hash)).toBeNull();
      });

      it('answers null for an unknown id or hash', async () => {
        expect(await store.findById('key_missing')).toBeNull();
        expect(await store.findByHash('0'.repeat(64))).toBeNull();
      });

      it('returns copies: changing a returned key changes nothing stored', async () => {
        const k = apiKey({ limits: { rateLimitPerMinute: 10, rateLimitPerDay: null, dailySpendCap: null } });
        await store.insert(k);
        // The inserted object is not kept either.
        k.scopes.push('inserted:later');
        const read = (await store.findById(k.id))!;
        read.name = 'mutated';
        read.scopes.push('admin');
        read.limits.rateLimitPerMinute = 1_000_000;
        read.createdAt.setFullYear(1999);
        const byHash = (await store.findByHash(k.hash))!;
        byHash.scopes.length = 0;
        const listed = await store.listForOrg(k.orgId);
        listed[0]!.scopes.push('listed');
        const updated = (await store.update(k.id, { name: 'renamed' }))!;
        updated.scopes.push('updated');
        expect(await store.findById(k.id)).toEqual({ ...k, scopes: ['keys:read', 'usage:read'], name: 'renamed' });
      });
    });

    describe('listForOrg', () => {
      it('lists an organization’s keys newest first, with ties on createdAt by id descending', async () => {
        const orgId = newId('org');
        const older = apiKey({ orgId, createdAt: at('2026-01-01T00:00:00Z') });
        const newest = apiKey({ orgId, createdAt: at('2026-03-01T00:00:00Z') });
        const tieA = apiKey({ orgId, id: 'key_tie_a', createdAt: at('2026-02-01T00:00:00Z') });
        const tieB = apiKey({ orgId, id: 'key_tie_b', createdAt: at('2026-02-01T00:00:00Z') });
        const elsewhere = apiKey({ orgId: newId('org'), createdAt: at('2026-04-01T00:00:00Z') });
        for (const k of [tieA, older, elsewhere, newest, tieB]) await store.insert(k);
        expect(await store.listForOrg(orgId)).toEqual([newest, tieB, tieA, older]);
        expect(await store.listForOrg(newId('org'))).toEqual([]);
      });

      it('lists only one user’s keys when asked', async () => {
        const orgId = newId('org');
        const mine1 = apiKey({ orgId, userId: 'usr_me', createdAt: at('2026-01-01T00:00:00Z') });
        const theirs = apiKey({ orgId, userId: 'usr_them', createdAt: at('2026-01-02T00:00:00Z') });
        const mine2 = apiKey({ orgId, userId: 'usr_me', createdAt: at('2026-01-03T00:00:00Z') });
        const mineElsewhere = apiKey({ orgId: newId('org'), userId: 'usr_me' });
        for (const k of [mine1, theirs, mine2, mineElsewhere]) await store.insert(k);
        expect(await store.listForOrg(orgId, { userId: 'usr_me' })).toEqual([mine2, mine1]);
        expect(await store.listForOrg(orgId, {})).toEqual([mine2, theirs, mine1]);
        expect(await store.listForOrg(orgId, { userId: 'usr_nobody' })).toEqual([]);
      });

      it('leaves revoked keys out, whether inserted revoked or revoked later', async () => {
        const orgId = newId('org');
        const kept = apiKey({ orgId, createdAt: at('2026-01-01T00:00:00Z') });
        const insertedRevoked = apiKey({ orgId, revokedAt: at('2026-01-05T00:00:00Z') });
        const revokedLater = apiKey({ orgId, createdAt: at('2026-01-02T00:00:00Z') });
        const disabled = apiKey({ orgId, active: false, createdAt: at('2025-12-01T00:00:00Z') });
        for (const k of [kept, insertedRevoked, revokedLater, disabled]) await store.insert(k);
        await store.update(revokedLater.id, { revokedAt: at('2026-02-01T00:00:00Z') });
        expect(await store.listForOrg(orgId)).toEqual([kept, disabled]);
        expect(await store.listForOrg(orgId, { userId: kept.userId })).toEqual([kept, disabled]);
      });
    });

    describe('update', () => {
      it('changes only the fields given, returns the updated key and persists it', async () => {
        const k = apiKey();
        await store.insert(k);
        const patch = {
          name: 'renamed',
          scopes: ['keys:write'],
          active: false,
          disabledByRole: 'admin' as const,
          expiresAt: at('2026-12-31T23:59:59.999Z'),
          limits: { rateLimitPerMinute: 60, rateLimitPerDay: 1_000, dailySpendCap: 10 },
          rotatedTo: 'key_successor',
        };
        const updated = await store.update(k.id, patch);
        expect(updated).toEqual({ ...k, ...patch });
        expect(await store.findById(k.id)).toEqual(updated);
        expect(await store.findByHash(k.hash)).toEqual(record(updated!));
      });

      it('sets fields back to null', async () => {
        const k = apiKey({ name: 'n', expiresAt: at('2027-01-01T00:00:00Z'), limits: { rateLimitPerMinute: 5, rateLimitPerDay: 50, dailySpendCap: 1 } });
        await store.insert(k);
        const updated = await store.update(k.id, { name: null, expiresAt: null, limits: { rateLimitPerMinute: null, rateLimitPerDay: null, dailySpendCap: null } });
        expect(updated).toEqual({ ...k, name: null, expiresAt: null, limits: { rateLimitPerMinute: null, rateLimitPerDay: null, dailySpendCap: null } });
        expect(await store.findById(k.id)).toEqual(updated);
      });

      it('revokes a key that is not revoked when notRevoked holds', async () => {
        const k = apiKey();
        await store.insert(k);
        const revokedAt = at('2026-02-02T02:02:02.002Z');
        expect(await store.update(k.id, { revokedAt }, { notRevoked: true })).toEqual({ ...k, revokedAt });
      });

      it('changes nothing and answers null when notRevoked fails', async () => {
        const k = apiKey({ revokedAt: at('2026-01-10T00:00:00Z') });
        await store.insert(k);
        expect(await store.update(k.id, { name: 'after revocation', active: false }, { notRevoked: true })).toBeNull();
        expect(await store.findById(k.id)).toEqual(k);
      });

      it('changes nothing and answers null when notRotated fails', async () => {
        const k = apiKey({ rotatedTo: 'key_first_successor' });
        await store.insert(k);
        expect(await store.update(k.id, { rotatedTo: 'key_second' }, { notRotated: true })).toBeNull();
        expect(await store.findById(k.id)).toEqual(k);
      });

      it('writes only while disabledByRole is what the condition says (null included)', async () => {
        const k = apiKey({ active: false, disabledByRole: 'owner' });
        await store.insert(k);
        expect(await store.update(k.id, { active: true, disabledByRole: null }, { disabledByRole: 'editor' })).toBeNull();
        expect(await store.update(k.id, { active: true, disabledByRole: null }, { disabledByRole: null })).toBeNull();
        expect(await store.findById(k.id)).toEqual(k);
        expect(await store.update(k.id, { active: true, disabledByRole: null }, { disabledByRole: 'owner' })).toEqual({ ...k, active: true, disabledByRole: null });
        expect(await store.update(k.id, { name: 'enabled' }, { disabledByRole: null })).toEqual({ ...k, active: true, disabledByRole: null, name: 'enabled' });
      });

      it('lets exactly one of ten concurrent rotations win', async () => {
        const k = apiKey();
        await store.insert(k);
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, n) => store.update(k.id, { rotatedTo: `key_${n}` }, { notRotated: true })),
        );
        const winners = results.filter((r) => r !== null);
        expect(winners).toHaveLength(1);
        expect((await store.findById(k.id))?.rotatedTo).toBe(winners[0]!.rotatedTo);
      });

      it('answers null for an unknown id, with or without conditions', async () => {
        expect(await store.update('key_missing', { name: 'x' })).toBeNull();
        expect(await store.update('key_missing', { name: 'x' }, { notRevoked: true, notRotated: true })).toBeNull();
        expect(await store.findById('key_missing')).toBeNull();
      });

      it('answers the key unchanged for an empty patch whose conditions hold, null when they fail', async () => {
        const k = apiKey();
        const revoked = apiKey({ revokedAt: at('2026-01-10T00:00:00Z') });
        await store.insert(k);
        await store.insert(revoked);
        expect(await store.update(k.id, {}, { notRevoked: true })).toEqual(k);
        expect(await store.update(revoked.id, {}, { notRevoked: true })).toBeNull();
      });
    });

    describe('touchLastUsed', () => {
      it('sets lastUsedAt from null', async () => {
        const k = apiKey();
        await store.insert(k);
        await store.touchLastUsed(k.id, at('2026-05-05T05:05:05.005Z'), null);
        expect((await store.findById(k.id))?.lastUsedAt).toEqual(at('2026-05-05T05:05:05.005Z'));
      });

      it('never moves lastUsedAt backwards', async () => {
        const k = apiKey();
        await store.insert(k);
        await store.touchLastUsed(k.id, at('2026-05-05T00:00:02Z'), null);
        await store.touchLastUsed(k.id, at('2026-05-05T00:00:01Z'), null);
        expect((await store.findById(k.id))?.lastUsedAt).toEqual(at('2026-05-05T00:00:02Z'));
        await store.touchLastUsed(k.id, at('2026-05-05T00:00:03Z'), null);
        expect((await store.findById(k.id))?.lastUsedAt).toEqual(at('2026-05-05T00:00:03Z'));
      });

      it('keeps the latest of concurrent touches and changes nothing else', async () => {
        const k = apiKey();
        await store.insert(k);
        const times = Array.from({ length: 10 }, (_, i) => at(`2026-05-05T00:00:${String(10 + i)}Z`)).reverse();
        await Promise.all(times.map((t) => store.touchLastUsed(k.id, t, null)));
        expect(await store.findById(k.id)).toEqual({ ...k, lastUsedAt: at('2026-05-05T00:00:19Z') });
      });

      it('never undoes a concurrent revocation or rename', async () => {
        const k = apiKey();
        await store.insert(k);
        const revokedAt = at('2026-05-05T12:00:00Z');
        const touches = Array.from({ length: 8 }, (_, i) => store.touchLastUsed(k.id, at(`2026-05-05T00:00:0${i}Z`), null));
        await Promise.all([...touches, store.update(k.id, { revokedAt }, { notRevoked: true }), store.update(k.id, { name: 'renamed' })]);
        expect(await store.findById(k.id)).toEqual({ ...k, name: 'renamed', revokedAt, lastUsedAt: at('2026-05-05T00:00:07Z') });
      });

      it('records where the last recorded use came from', async () => {
        const k = apiKey();
        await store.insert(k);
        await store.touchLastUsed(k.id, at('2026-05-05T00:00:01Z'), '203.0.113.7');
        expect(await store.findById(k.id)).toMatchObject({ lastUsedAt: at('2026-05-05T00:00:01Z'), lastUsedFrom: '203.0.113.7' });
        await store.touchLastUsed(k.id, at('2026-05-05T00:01:01Z'), 'via Leads API');
        expect((await store.findById(k.id))?.lastUsedFrom).toBe('via Leads API');
        expect((await store.listForOrg(k.orgId)).find((x) => x.id === k.id)?.lastUsedFrom).toBe('via Leads API');
      });

      it('does nothing for an unknown id', async () => {
        await store.touchLastUsed('key_missing', at('2026-05-05T00:00:00Z'), null);
        expect(await store.findById('key_missing')).toBeNull();
      });
    });
  });
}
