/**
 * One contract for every OAuthModelStore (what oidc-provider's adapter persists): the memory
 * store (test/unit) and the MongoDB store (test/integration) run these same cases.
 *
 * Time: `open` builds the store on a FrozenClock and hands the clock back; every expiresAt here
 * is relative to that clock, and expiry is tested by advancing it.
 *
 * Consumption: once consumed, always consumed — a re-upsert of a consumed record keeps it
 * consumed, also after destroy or revokeByGrantId (oidc-provider never re-upserts consumed codes;
 * if anything ever did, the safe answer is that a code cannot be redeemed again). Only the
 * record's expiry forgets it.
 */
import { beforeEach, describe, expect, it } from '@jest/globals';
import type { OAuthModelStore } from '../../src/ports.ts';
import type { FrozenClock } from '../support/frozen-clock.ts';

export interface OpenedOAuthModelStore {
  store: OAuthModelStore;
  clock: FrozenClock;
}

const MODELS = [
  'Session',
  'Interaction',
  'AuthorizationCode',
  'AccessToken',
  'RefreshToken',
  'Grant',
  'ReplayDetection',
  'ClientCredentials',
  'PushedAuthorizationRequest',
  'DeviceCode',
] as const;

const HOUR = 3_600_000;

let counter = 0;
/** Ids unique within a run, shaped like oidc-provider's (url-safe random-looking strings). */
const newId = (prefix = 'id'): string => `${prefix}_${Date.now().toString(36)}_${(counter++).toString(36)}`;

/** A payload with every JSON shape: arrays, nested objects, numbers, booleans, null, empty containers. */
function richPayload(model: string, id: string): Record<string, unknown> {
  return {
    kind: model,
    jti: id,
    iat: 1_767_225_600,
    exp: 1_767_229_200,
    accountId: 'usr_contract',
    clientId: 'cli_contract',
    scope: 'openid offline_access keys:read',
    gty: 'authorization_code refresh_token',
    rotations: 0,
    ratio: 0.25,
    negative: -42,
    big: 2 ** 40,
    active: true,
    disabled: false,
    nonce: null,
    claims: { id_token: { email: { essential: true }, email_verified: null }, userinfo: {} },
    amr: ['pwd', 'mfa'],
    nested: { list: [1, 'two', { three: [3, [3.5]] }, null, true], empty: [], deep: { deeper: { deepest: 'ok' } } },
    'x-unicode': 'Grüße, 世界 ✓',
  };
}

/** Keys that are legal JSON but not legal in a MongoDB-wire document as they are. */
function awkwardKeysPayload(): Record<string, unknown> {
  return {
    // Grant: resource indicators are URLs; Session: client ids may contain dots.
    resources: { 'https://api.example.com': 'keys:read', 'urn:tessera:api': 'usage:read' },
    authorizations: { 'app.example.com': { sid: 's1', grantId: 'g1' } },
    claims: { userinfo: { 'https://tessera.example/org': { essential: true } } },
    $weird: { $nested: 1, 'a.b': ['c.d'] },
    '': 'empty key',
  };
}

export function describeOAuthModelStore(name: string, open: () => Promise<OpenedOAuthModelStore>): void {
  describe(`${name}: OAuth model store contract`, () => {
    let store: OAuthModelStore;
    let clock: FrozenClock;
    const inAnHour = (): Date => new Date(clock.now().getTime() + HOUR);

    beforeEach(async () => {
      ({ store, clock } = await open());
    });

    describe('upsert and find', () => {
      it.each(MODELS)('round-trips a nested payload of %s with its expiry', async (model) => {
        const id = newId();
        const payload = richPayload(model, id);
        const expiresAt = inAnHour();
        await store.upsert(model, id, payload, expiresAt);
        expect(await store.find(model, id)).toEqual({ payload, expiresAt, consumedAt: null });
      });

      it('round-trips keys with dots, leading dollars and the empty key', async () => {
        const id = newId();
        const payload = awkwardKeysPayload();
        await store.upsert('Grant', id, payload, inAnHour());
        expect((await store.find('Grant', id))?.payload).toEqual(payload);
      });

      it('round-trips an empty payload', async () => {
        const id = newId();
        await store.upsert('Interaction', id, {}, null);
        expect(await store.find('Interaction', id)).toEqual({ payload: {}, expiresAt: null, consumedAt: null });
      });

      it('returns null for an unknown id, and for a known id under another model', async () => {
        const id = newId();
        expect(await store.find('AccessToken', id)).toBeNull();
        await store.upsert('AccessToken', id, { jti: id }, inAnHour());
        expect(await store.find('RefreshToken', id)).toBeNull();
      });

      it('keeps the same id under different models as separate records', async () => {
        const id = newId();
        await store.upsert('AccessToken', id, { kind: 'AccessToken' }, inAnHour());
        await store.upsert('RefreshToken', id, { kind: 'RefreshToken' }, null);
        expect(await store.find('AccessToken', id)).toMatchObject({ payload: { kind: 'AccessToken' } });
        expect(await store.find('RefreshToken', id)).toMatchObject({ payload: { kind: 'RefreshToken' }, expiresAt: null });
        await store.destroy('AccessToken', id);
        expect(await store.find('AccessToken', id)).toBeNull();
        expect(await store.find('RefreshToken', id)).toMatchObject({ payload: { kind: 'RefreshToken' } });
        expect(await store.consume('RefreshToken', id, clock.now())).toBe(true);
        await store.upsert('AccessToken', id, { kind: 'AccessToken' }, inAnHour());
        expect((await store.find('AccessToken', id))?.consumedAt).toBeNull();
      });

      it('peeks at a record without its consumption, with find’s expiry rules', async () => {
        const id = newId();
        const expiresAt = inAnHour();
        await store.upsert('AccessToken', id, { kind: 'AccessToken', n: 1 }, expiresAt);
        expect(await store.peek('AccessToken', id)).toEqual({ payload: { kind: 'AccessToken', n: 1 }, expiresAt });
        expect(await store.peek('RefreshToken', id)).toBeNull();
        expect(await store.peek('AccessToken', newId())).toBeNull();
        clock.advance(3_600_000);
        expect(await store.peek('AccessToken', id)).toBeNull();
      });

      it('replaces the payload, its lookups and the expiry on a second upsert', async () => {
        const id = newId();
        await store.upsert('Session', id, { uid: 'uid-old', grantId: 'g-old', extra: { a: 1 } }, inAnHour());
        const later = new Date(clock.now().getTime() + 3 * HOUR);
        await store.upsert('Session', id, { uid: 'uid-new', accountId: 'usr_1' }, later);
        expect(await store.find('Session', id)).toEqual({ payload: { uid: 'uid-new', accountId: 'usr_1' }, expiresAt: later, consumedAt: null });
        expect(await store.findByUid('Session', 'uid-old')).toBeNull();
        expect((await store.findByUid('Session', 'uid-new'))?.payload).toEqual({ uid: 'uid-new', accountId: 'usr_1' });
        // No longer part of the old grant.
        await store.revokeByGrantId('g-old');
        expect(await store.find('Session', id)).not.toBeNull();
        // Past the first expiry, inside the second.
        clock.advance(2 * HOUR);
        expect(await store.find('Session', id)).not.toBeNull();
      });

      it('turns an expiring record into one that never expires, and back', async () => {
        const id = newId();
        await store.upsert('Grant', id, { v: 1 }, inAnHour());
        await store.upsert('Grant', id, { v: 2 }, null);
        clock.advance(10 * HOUR);
        expect(await store.find('Grant', id)).toEqual({ payload: { v: 2 }, expiresAt: null, consumedAt: null });
        await store.upsert('Grant', id, { v: 3 }, inAnHour());
        clock.advance(HOUR);
        expect(await store.find('Grant', id)).toBeNull();
      });

      it('stores a copy: changing the given payload or a returned one changes nothing stored', async () => {
        const id = newId();
        const payload = { list: [1, 2], nested: { a: 'b' } };
        await store.upsert('Session', id, payload, null);
        payload.list.push(3);
        payload.nested.a = 'changed';
        const found = await store.find('Session', id);
        expect(found?.payload).toEqual({ list: [1, 2], nested: { a: 'b' } });
        (found!.payload['nested'] as Record<string, unknown>)['a'] = 'mutated';
        found!.expiresAt = new Date(0);
        expect(await store.find('Session', id)).toEqual({ payload: { list: [1, 2], nested: { a: 'b' } }, expiresAt: null, consumedAt: null });
      });

      it('leaves exactly one record after 20 concurrent upserts of one id', async () => {
        const id = newId();
        const uid = newId('uid');
        await Promise.all(Array.from({ length: 20 }, (_, n) => store.upsert('Session', id, { uid, n }, inAnHour())));
        const found = await store.find('Session', id);
        expect(found?.payload).toEqual({ uid, n: expect.any(Number) });
        expect((await store.findByUid('Session', uid))?.payload).toEqual(found?.payload);
        await store.destroy('Session', id);
        expect(await store.find('Session', id)).toBeNull();
        expect(await store.findByUid('Session', uid)).toBeNull();
      });
    });

    describe('expiry', () => {
      it('hides a record from the moment it expires, at the exact millisecond too', async () => {
        const id = newId();
        const uid = newId('uid');
        const userCode = newId('code');
        await store.upsert('DeviceCode', id, { uid, userCode }, new Date(clock.now().getTime() + 1_000));
        clock.advance(999);
        expect(await store.find('DeviceCode', id)).not.toBeNull();
        expect(await store.findByUid('DeviceCode', uid)).not.toBeNull();
        expect(await store.findByUserCode('DeviceCode', userCode)).not.toBeNull();
        clock.advance(1);
        expect(await store.find('DeviceCode', id)).toBeNull();
        expect(await store.findByUid('DeviceCode', uid)).toBeNull();
        expect(await store.findByUserCode('DeviceCode', userCode)).toBeNull();
        clock.advance(HOUR);
        expect(await store.find('DeviceCode', id)).toBeNull();
      });

      it('never expires a record whose expiresAt is null', async () => {
        const id = newId();
        await store.upsert('Grant', id, { accountId: 'usr_1' }, null);
        clock.advance(10 * 365 * 24 * HOUR);
        expect(await store.find('Grant', id)).toEqual({ payload: { accountId: 'usr_1' }, expiresAt: null, consumedAt: null });
      });

      it('brings an expired id back as a new record when it is upserted again', async () => {
        const id = newId();
        await store.upsert('Interaction', id, { v: 1 }, new Date(clock.now().getTime() + 1_000));
        clock.advance(1_000);
        expect(await store.find('Interaction', id)).toBeNull();
        await store.upsert('Interaction', id, { v: 2 }, inAnHour());
        expect((await store.find('Interaction', id))?.payload).toEqual({ v: 2 });
      });
    });

    describe('findByUid and findByUserCode', () => {
      it('finds a Session by uid, only within that model', async () => {
        const id = newId();
        const uid = newId('uid');
        const payload = { uid, accountId: 'usr_1', authorizations: { cli_1: { sid: 'sid_1' } } };
        const expiresAt = inAnHour();
        await store.upsert('Session', id, payload, expiresAt);
        expect(await store.findByUid('Session', uid)).toEqual({ payload, expiresAt, consumedAt: null });
        expect(await store.findByUid('Interaction', uid)).toBeNull();
        expect(await store.findByUid('Session', newId('uid'))).toBeNull();
      });

      it('finds a DeviceCode by user code, only within that model', async () => {
        const id = newId();
        const userCode = newId('code');
        const payload = { userCode, deviceInfo: { ip: '127.0.0.1', ua: 'curl' }, params: { client_id: 'cli_1', scope: 'openid' } };
        const expiresAt = inAnHour();
        await store.upsert('DeviceCode', id, payload, expiresAt);
        expect(await store.findByUserCode('DeviceCode', userCode)).toEqual({ payload, expiresAt, consumedAt: null });
        expect(await store.findByUserCode('AuthorizationCode', userCode)).toBeNull();
        expect(await store.findByUserCode('DeviceCode', newId('code'))).toBeNull();
        // A uid is not a user code, nor the other way round.
        expect(await store.findByUid('DeviceCode', userCode)).toBeNull();
      });

      it('shows consumption through the lookups too', async () => {
        const id = newId();
        const userCode = newId('code');
        await store.upsert('DeviceCode', id, { userCode }, inAnHour());
        const at = clock.now();
        expect(await store.consume('DeviceCode', id, at)).toBe(true);
        expect((await store.findByUserCode('DeviceCode', userCode))?.consumedAt).toEqual(at);
      });

      it('finds nothing after destroy', async () => {
        const id = newId();
        const uid = newId('uid');
        const userCode = newId('code');
        await store.upsert('DeviceCode', id, { uid, userCode }, inAnHour());
        await store.destroy('DeviceCode', id);
        expect(await store.findByUid('DeviceCode', uid)).toBeNull();
        expect(await store.findByUserCode('DeviceCode', userCode)).toBeNull();
      });
    });

    describe('consume', () => {
      it('succeeds once, then fails; find shows when, with the payload unchanged', async () => {
        const id = newId();
        const payload = richPayload('AuthorizationCode', id);
        const expiresAt = inAnHour();
        await store.upsert('AuthorizationCode', id, payload, expiresAt);
        const at = clock.now();
        expect(await store.consume('AuthorizationCode', id, at)).toBe(true);
        clock.advance(5_000);
        expect(await store.consume('AuthorizationCode', id, clock.now())).toBe(false);
        expect(await store.find('AuthorizationCode', id)).toEqual({ payload, expiresAt, consumedAt: at });
      });

      it('fails for an unknown id, an id of another model and an expired record', async () => {
        const id = newId();
        expect(await store.consume('RefreshToken', id, clock.now())).toBe(false);
        await store.upsert('RefreshToken', id, { jti: id }, new Date(clock.now().getTime() + 1_000));
        expect(await store.consume('AuthorizationCode', id, clock.now())).toBe(false);
        clock.advance(1_000);
        expect(await store.consume('RefreshToken', id, clock.now())).toBe(false);
        expect(await store.find('RefreshToken', id)).toBeNull();
      });

      it('gives exactly one of 25 concurrent consumes of one id', async () => {
        const id = newId();
        await store.upsert('RefreshToken', id, { jti: id }, inAnHour());
        const results = await Promise.all(Array.from({ length: 25 }, () => store.consume('RefreshToken', id, clock.now())));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect((await store.find('RefreshToken', id))?.consumedAt).toEqual(clock.now());
      });

      it('keeps a consumed record consumed when it is upserted again', async () => {
        const id = newId();
        await store.upsert('RefreshToken', id, { v: 1 }, inAnHour());
        const at = clock.now();
        expect(await store.consume('RefreshToken', id, at)).toBe(true);
        const later = new Date(clock.now().getTime() + 5 * HOUR);
        await store.upsert('RefreshToken', id, { v: 2 }, later);
        expect(await store.find('RefreshToken', id)).toEqual({ payload: { v: 2 }, expiresAt: later, consumedAt: at });
        expect(await store.consume('RefreshToken', id, clock.now())).toBe(false);
        // Still consumed past the first expiry.
        clock.advance(2 * HOUR);
        expect((await store.find('RefreshToken', id))?.consumedAt).toEqual(at);
        expect(await store.consume('RefreshToken', id, clock.now())).toBe(false);
      });

      it('consumes a record that never expires', async () => {
        const id = newId();
        await store.upsert('RefreshToken', id, { jti: id }, null);
        expect(await store.consume('RefreshToken', id, clock.now())).toBe(true);
        clock.advance(365 * 24 * HOUR);
        expect((await store.find('RefreshToken', id))?.consumedAt).not.toBeNull();
      });
    });

    describe('destroy', () => {
      it('removes the record; a later consume fails; an unknown id is no error', async () => {
        const id = newId();
        await store.upsert('AccessToken', id, { jti: id }, inAnHour());
        await store.destroy('AccessToken', id);
        expect(await store.find('AccessToken', id)).toBeNull();
        expect(await store.consume('AccessToken', id, clock.now())).toBe(false);
        await expect(store.destroy('AccessToken', id)).resolves.toBeUndefined();
        await expect(store.destroy('AccessToken', newId())).resolves.toBeUndefined();
      });

      it('never forgets a consumption: the id upserted again stays consumed', async () => {
        // A redemption that read the record before it was destroyed must still lose afterwards.
        const id = newId();
        await store.upsert('AuthorizationCode', id, { v: 1 }, inAnHour());
        expect(await store.consume('AuthorizationCode', id, clock.now())).toBe(true);
        await store.destroy('AuthorizationCode', id);
        await store.upsert('AuthorizationCode', id, { v: 2 }, inAnHour());
        expect((await store.find('AuthorizationCode', id))?.consumedAt).not.toBeNull();
        expect(await store.consume('AuthorizationCode', id, clock.now())).toBe(false);
      });

      it('ends a Grant with every record of it, and nothing of another grant', async () => {
        const grant = newId('grant');
        const other = newId('grant');
        await store.upsert('Grant', grant, { accountId: 'usr_1' }, inAnHour());
        await store.upsert('Grant', other, { accountId: 'usr_1' }, inAnHour());
        const code = newId();
        const refresh = newId();
        const theirs = newId();
        await store.upsert('AuthorizationCode', code, { grantId: grant }, inAnHour());
        await store.upsert('RefreshToken', refresh, { grantId: grant }, inAnHour());
        await store.upsert('RefreshToken', theirs, { grantId: other }, inAnHour());
        expect(await store.find('RefreshToken', refresh)).not.toBeNull();

        await store.destroy('Grant', grant);

        expect(await store.find('Grant', grant)).toBeNull();
        expect(await store.peek('Grant', grant)).toBeNull();
        expect(await store.find('AuthorizationCode', code)).toBeNull();
        expect(await store.find('RefreshToken', refresh)).toBeNull();
        expect(await store.consume('RefreshToken', refresh, clock.now())).toBe(false);
        expect(await store.find('RefreshToken', theirs)).not.toBeNull();
        expect((await store.peek('Grant', other))?.payload).toEqual({ accountId: 'usr_1' });
      });

      it('serves a grant saved again as it now is to the records written before', async () => {
        const grant = newId('grant');
        await store.upsert('Grant', grant, { scope: 'a' }, inAnHour());
        const refresh = newId();
        await store.upsert('RefreshToken', refresh, { grantId: grant }, inAnHour());
        await store.upsert('Grant', grant, { scope: 'a b' }, inAnHour());
        expect((await store.find('RefreshToken', refresh))?.payload).toEqual({ grantId: grant });
        expect((await store.peek('Grant', grant))?.payload).toEqual({ scope: 'a b' });
        expect((await store.find('Grant', grant))?.payload).toEqual({ scope: 'a b' });
      });
    });

    describe('revokeByGrantId', () => {
      it("removes every model's records of the grant and nothing of another grant", async () => {
        const grant = newId('grant');
        const other = newId('grant');
        const models = ['AccessToken', 'RefreshToken', 'AuthorizationCode', 'Grant', 'DeviceCode'];
        const ids = new Map(models.map((m) => [m, { mine: newId(), theirs: newId() }]));
        for (const [model, { mine, theirs }] of ids) {
          await store.upsert(model, mine, { grantId: grant, kind: model }, inAnHour());
          await store.upsert(model, theirs, { grantId: other, kind: model }, inAnHour());
        }
        const ungranted = newId();
        await store.upsert('Session', ungranted, { accountId: 'usr_1' }, inAnHour());
        expect(await store.consume('RefreshToken', ids.get('RefreshToken')!.mine, clock.now())).toBe(true);

        await store.revokeByGrantId(grant);

        for (const [model, { mine, theirs }] of ids) {
          expect(await store.find(model, mine)).toBeNull();
          expect(await store.find(model, theirs)).toMatchObject({ payload: { grantId: other, kind: model } });
          expect(await store.consume(model, mine, clock.now())).toBe(false);
        }
        expect(await store.find('Session', ungranted)).not.toBeNull();
        // The consumption outlives the record: consumed once, consumed for good.
        const refresh = ids.get('RefreshToken')!.mine;
        await store.upsert('RefreshToken', refresh, { grantId: grant }, inAnHour());
        expect((await store.find('RefreshToken', refresh))?.consumedAt).not.toBeNull();
        expect(await store.consume('RefreshToken', refresh, clock.now())).toBe(false);
      });

      it('is no error for a grant with no records', async () => {
        await expect(store.revokeByGrantId(newId('grant'))).resolves.toBeUndefined();
      });

      it('only matches a grantId given as a string in the payload', async () => {
        const id = newId();
        await store.upsert('AccessToken', id, { grantId: { nested: 'g' }, other: 'g' }, inAnHour());
        await store.revokeByGrantId('g');
        expect(await store.find('AccessToken', id)).not.toBeNull();
      });
    });
  });
}
