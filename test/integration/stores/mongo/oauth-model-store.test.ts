import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import mongoose from 'mongoose';
import { UnavailableError } from '../../../../src/errors/index.ts';
import type { Clock } from '../../../../src/ports.ts';
import { openMongo, type MongoContext } from '../../../../src/stores/mongo/mongo-connection.ts';
import { bucketOf, type Location } from '../../../../src/stores/mongo/bucketed-collection.ts';
import { MongoOAuthModelStore } from '../../../../src/stores/mongo/mongo-oauth-model-store.ts';
import { describeOAuthModelStore } from '../../../contracts/oauth-model-store.contract.ts';
import { collectionAt, emptyLogical } from '../../../support/buckets.ts';
import { FrozenClock } from '../../../support/frozen-clock.ts';
import { mongoUriFor, uniqueName } from '../../../support/unique.ts';

let mongo: MongoContext;
/** One collection per logical one (MongoDB's layout), and one spread over buckets in databases of their own (FerretDB's). */
let store: MongoOAuthModelStore;
let bucketed: MongoOAuthModelStore;
/** The bucketed layout, small enough to look into (8 buckets, 4 to a database), and no timers during a case. */
const BUCKETED = { sweepEveryMs: 3_600_000, buckets: 8, perDatabase: 4, legacyCheckMs: 3_600_000 };
// Each case gets a fresh clock; the store, built once, reads whichever is current. The clocks
// start at the real time, so that a TTL index (MongoDB) never deletes what a case still expects.
let clock = new FrozenClock(new Date());
const currentClock: Clock = { now: () => clock.now() };

type Collection = 'oauth_models' | 'oauth_sessions' | 'oauth_consumed' | 'oauth_ended' | 'oauth_lookups';
const raw = (name: Collection) => mongo.connection.collection(name);
const ids = async (name: Collection): Promise<string[]> =>
  (await raw(name).find({}, { projection: { _id: 1 } }).sort({ _id: 1 }).toArray()).map((d) => String(d._id));

const at = (location: Location) => collectionAt(mongo.connection, location);

/** The previous release's bucket of this key in the deployment's database (256 of them). */
const previousBucket = (collection: Collection, _id: string) => raw(`${collection}_b${bucketOf(_id, 256).toString(16).padStart(2, '0')}` as Collection);

const LOGICAL = ['oauth_models', 'oauth_sessions', 'oauth_consumed', 'oauth_ended', 'oauth_lookups'] as const;

async function emptyCollections(): Promise<void> {
  for (const name of LOGICAL) await emptyLogical(mongo.connection, name);
  for (const { name } of await mongo.connection.db!.listCollections({}, { nameOnly: true }).toArray()) if (/_b[0-9a-f]{2}$/.test(name)) await mongo.connection.db!.dropCollection(name);
}

beforeAll(async () => {
  mongo = await openMongo(mongoUriFor(uniqueName('oauth_models')), { timeoutMs: 5_000 });
  // A sweep interval no case outlasts: sweeps here happen when a case asks for them.
  store = new MongoOAuthModelStore(mongo.connection, mongo.capabilities, currentClock, { sweepEveryMs: 3_600_000, buckets: 1 });
  // The one collection from before the buckets is checked for documents when a case inits.
  bucketed = new MongoOAuthModelStore(mongo.connection, mongo.capabilities, currentClock, BUCKETED);
  await store.init();
  await bucketed.init();
});

afterAll(async () => {
  store.stop();
  bucketed.stop();
  for (const name of LOGICAL) await emptyLogical(mongo.connection, name);
  await mongo.connection.dropDatabase();
  await mongo.close();
});

// The collection names are fixed, so each case starts from emptied collections.
describeOAuthModelStore('mongodb', async () => {
  await store.init(); // idempotent: a second start must not fail on the existing collections
  await emptyCollections();
  clock = new FrozenClock(new Date());
  return { store, clock };
});

describeOAuthModelStore('mongodb, in buckets', async () => {
  await bucketed.init();
  await emptyCollections();
  clock = new FrozenClock(new Date());
  return { store: bucketed, clock };
});

describe('mongodb OAuth model store: what the contract cannot see', () => {
  beforeEach(async () => {
    await emptyCollections();
    clock = new FrozenClock(new Date());
  });

  it('creates the lookup indexes and an expiry index on every collection', async () => {
    const records = await raw('oauth_models').indexes();
    expect(records).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ key: { model: 1, uid: 1 } }),
        expect.objectContaining({ key: { model: 1, userCode: 1 } }),
      ]),
    );
    // Revocation is a tombstone: no index by grant to keep up on every insert.
    expect(records.map((i) => i.name)).not.toContain('grantId_1');
    for (const indexes of [records, ...(await Promise.all((['oauth_sessions', 'oauth_consumed', 'oauth_ended', 'oauth_lookups'] as const).map((name) => raw(name).indexes())))]) {
      const expiry = indexes.find((i) => JSON.stringify(i.key) === JSON.stringify({ expiresAt: 1 }));
      expect(expiry).toBeDefined();
      expect(expiry?.expireAfterSeconds).toBe(mongo.capabilities.ttlIndexes ? 0 : undefined);
    }
    expect(store.expiryMode).toBe(mongo.capabilities.ttlIndexes ? 'ttl-index' : 'sweep');
  });

  it('stores one document per record, keyed model:id, with the lookup fields copied out; sessions and interactions apart', async () => {
    const expiresAt = new Date(clock.now().getTime() + 60_000);
    const payload = { uid: 'u1', grantId: 'g1', userCode: 'UC-1', resources: { 'https://api.example.com': 'read' } };
    await store.upsert('Session', 's1', payload, expiresAt);
    await store.upsert('Interaction', 'i1', { returnTo: '/x' }, null);
    const session = await raw('oauth_sessions').findOne({ _id: 'Session:s1' as never });
    expect(session).toEqual({ _id: 'Session:s1', model: 'Session', payload: JSON.stringify(payload), uid: 'u1', grantId: 'g1', userCode: 'UC-1', expiresAt, savedAt: expect.any(Number) });
    expect(session?.['expiresAt']).toBeInstanceOf(Date);
    // findByUid reads a pointer by primary key, never a query on uid.
    expect(await raw('oauth_lookups').findOne({ _id: 'Session:uid:u1' as never })).toEqual({ _id: 'Session:uid:u1', key: 'Session:s1', expiresAt });
    // Nothing to look up by: no lookup fields at all, not nulls.
    expect(await raw('oauth_sessions').findOne({ _id: 'Interaction:i1' as never })).toEqual({
      _id: 'Interaction:i1',
      model: 'Interaction',
      payload: '{"returnTo":"/x"}',
      expiresAt: null,
      savedAt: expect.any(Number),
    });
    // An upsert without them removes them.
    await store.upsert('Session', 's1', { accountId: 'usr_1' }, expiresAt);
    expect(await ids('oauth_models')).toEqual([]);
    expect(await raw('oauth_sessions').findOne({ _id: 'Session:s1' as never })).toEqual({
      _id: 'Session:s1',
      model: 'Session',
      payload: '{"accountId":"usr_1"}',
      expiresAt,
      savedAt: expect.any(Number),
    });
  });

  it('writes a new record with one insert, and ends records with tombstones, never an update or a delete in place', async () => {
    // FerretDB 1.x scans the whole collection for an update or a delete, by _id too: the hot
    // paths insert and read by _id only (docs/queries.md).
    const expiresAt = new Date(clock.now().getTime() + 60_000);
    await store.upsert('Grant', 'g9', { accountId: 'usr_1' }, expiresAt);
    await store.upsert('AccessToken', 'a9', { grantId: 'g9' }, expiresAt);
    await store.upsert('RefreshToken', 'r9', { grantId: 'g9' }, expiresAt);
    await store.upsert('Interaction', 'i9', { returnTo: '/x' }, expiresAt);
    await store.destroy('Interaction', 'i9');
    await store.revokeByGrantId('g9');
    expect(await ids('oauth_models')).toEqual(['AccessToken:a9', 'Grant:g9', 'RefreshToken:r9']);
    expect(await ids('oauth_sessions')).toEqual(['Interaction:i9']);
    expect(await ids('oauth_ended')).toEqual(['Interaction:i9', 'grant:g9']);
    expect(await raw('oauth_ended').findOne({ _id: 'grant:g9' as never })).toEqual({ _id: 'grant:g9', at: expect.any(Number), expiresAt });
    for (const [model, id] of [['Grant', 'g9'], ['AccessToken', 'a9'], ['RefreshToken', 'r9'], ['Interaction', 'i9']] as const) expect(await store.find(model, id)).toBeNull();
    // Saved again after its tombstone, a record lives again.
    await store.upsert('Interaction', 'i9', { returnTo: '/y' }, expiresAt);
    expect((await store.find('Interaction', 'i9'))?.payload).toEqual({ returnTo: '/y' });
  });

  it('spreads records over buckets by a hash of their key, and still reads and consumes what is in the one collection from before', async () => {
    const expiresAt = new Date(clock.now().getTime() + 60_000);
    for (let i = 0; i < 40; i++) await bucketed.upsert('AccessToken', `t${i}`, { grantId: 'g' }, expiresAt);
    const locations = bucketed.locations().records;
    // 8 buckets, 4 to a database: two databases of the deployment's name and the collection's.
    expect(new Set(locations.map((l) => l.database))).toEqual(new Set([0, 1].map((n) => `${mongo.connection.db!.databaseName}_oauth_models_${n}`)));
    const counts = await Promise.all(locations.map((location) => at(location).countDocuments({})));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(40);
    expect(counts.filter((n) => n > 0).length).toBeGreaterThan(4);
    expect(await at(bucketed.recordLocation('AccessToken:t7')).findOne({ _id: 'AccessToken:t7' as never })).toMatchObject({ model: 'AccessToken' });
    expect(await ids('oauth_models')).toEqual([]);
    // Empty when checked, the one collection is not read: a miss is one round trip, not two.
    await bucketed.init();
    // A refresh token written by a Tessera before the buckets, and consumed then.
    await raw('oauth_models').insertOne({ _id: 'RefreshToken:old' as never, model: 'RefreshToken', payload: '{"grantId":"g-old"}', grantId: 'g-old', expiresAt });
    await raw('oauth_consumed').insertOne({ _id: 'RefreshToken:old' as never, at: clock.now(), expiresAt });
    expect(await bucketed.find('RefreshToken', 'old')).toBeNull();
    // Checked again (at start, as here, or on the store's timer), it is read.
    await bucketed.init();
    expect(await bucketed.find('RefreshToken', 'old')).toMatchObject({ payload: { grantId: 'g-old' }, consumedAt: clock.now() });
    expect(await bucketed.consume('RefreshToken', 'old', clock.now())).toBe(false);
    await bucketed.revokeByGrantId('g-old');
    expect(await bucketed.find('RefreshToken', 'old')).toBeNull();
  });

  it('still reads, consumes and revokes what the previous release kept in 256 buckets of the deployment’s database', async () => {
    const expiresAt = new Date(clock.now().getTime() + 60_000);
    // No such bucket when checked: not read.
    await bucketed.init();
    await previousBucket('oauth_models', 'RefreshToken:prev').insertOne({ _id: 'RefreshToken:prev' as never, model: 'RefreshToken', payload: '{"grantId":"g-prev"}', grantId: 'g-prev', expiresAt, savedAt: 1 });
    await previousBucket('oauth_models', 'AuthorizationCode:prev').insertOne({ _id: 'AuthorizationCode:prev' as never, model: 'AuthorizationCode', payload: '{"grantId":"g-prev"}', grantId: 'g-prev', expiresAt, savedAt: 1 });
    await previousBucket('oauth_consumed', 'AuthorizationCode:prev').insertOne({ _id: 'AuthorizationCode:prev' as never, at: clock.now(), expiresAt });
    expect(await bucketed.find('RefreshToken', 'prev')).toBeNull();
    await bucketed.init();
    expect(await bucketed.find('RefreshToken', 'prev')).toEqual({ payload: { grantId: 'g-prev' }, expiresAt, consumedAt: null });
    expect(await bucketed.consume('AuthorizationCode', 'prev', clock.now())).toBe(false);
    expect(await bucketed.consume('RefreshToken', 'prev', clock.now())).toBe(true);
    expect(await bucketed.consume('RefreshToken', 'prev', clock.now())).toBe(false);
    await bucketed.revokeByGrantId('g-prev');
    expect(await bucketed.find('RefreshToken', 'prev')).toBeNull();
  });

  it('reads a refresh token’s grant from the copy it carries, checked by the grant’s tombstone on every read; without a copy, with that tombstone (once)', async () => {
    const monitored = await mongoose.createConnection(mongoUriFor(mongo.connection.db!.databaseName), { monitorCommands: true }).asPromise();
    const commands: string[] = [];
    monitored.getClient().on('commandStarted', (event) => {
      if (['find', 'insert', 'update', 'delete'].includes(event.commandName)) commands.push(event.commandName);
    });
    const counted = new MongoOAuthModelStore(monitored, mongo.capabilities, currentClock, BUCKETED);
    const finds = (n: number): string[] => Array<string>(n).fill('find');
    try {
      await counted.init();
      const expiresAt = new Date(clock.now().getTime() + 60_000);
      await counted.upsert('Grant', 'gc', { accountId: 'usr_1' }, expiresAt);
      await counted.upsert('RefreshToken', 'rc', { grantId: 'gc' }, expiresAt);
      commands.length = 0;
      // A redemption as oidc-provider makes it: the token (its record, which says whether it
      // ended, and its marker), its grant, the consumption. The token carries its grant: only the
      // grant's tombstone is read.
      expect(await counted.find('RefreshToken', 'rc')).toMatchObject({ payload: { grantId: 'gc' }, consumedAt: null });
      expect(commands).toEqual(finds(3));
      expect(await counted.peek('Grant', 'gc')).toMatchObject({ payload: { accountId: 'usr_1' } });
      expect(await counted.consume('RefreshToken', 'rc', clock.now())).toBe(true);
      expect(commands).toEqual([...finds(3), 'insert']);
      // Taken once: the next read of the grant reads it (the grant, its tombstone, its grant tombstone).
      expect(await counted.peek('Grant', 'gc')).not.toBeNull();
      expect(commands).toEqual([...finds(3), 'insert', ...finds(3)]);

      // Read without its marker (oidc-adapter.ts: a refresh token, which every use consumes): the
      // token, then its grant's tombstone; the consume that follows inserts at once.
      await counted.upsert('RefreshToken', 'rp', { grantId: 'gc' }, expiresAt);
      commands.length = 0;
      expect(await counted.peek('RefreshToken', 'rp')).toMatchObject({ payload: { grantId: 'gc' } });
      expect(await counted.peek('Grant', 'gc')).toMatchObject({ payload: { accountId: 'usr_1' } });
      expect(await counted.consume('RefreshToken', 'rp', clock.now())).toBe(true);
      expect(await counted.consume('RefreshToken', 'rp', clock.now())).toBe(false);
      expect(commands).toEqual([...finds(2), 'insert', ...finds(2), 'insert']);

      // A token written by an instance holding no copy of its grant (or by an earlier release):
      // its grant is read with the grant's tombstone, for the read of the grant that follows.
      await bucketed.upsert('RefreshToken', 're', { grantId: 'gc' }, expiresAt);
      commands.length = 0;
      expect(await counted.find('RefreshToken', 're')).not.toBeNull();
      expect(commands).toEqual(finds(5));
      expect(await counted.peek('Grant', 'gc')).toMatchObject({ payload: { accountId: 'usr_1' } });
      expect(commands).toEqual(finds(5));

      // The grant saved again by another instance after the copy was taken: the grant is read.
      await counted.upsert('RefreshToken', 'rf', { grantId: 'gc' }, expiresAt);
      await bucketed.upsert('Grant', 'gc', { accountId: 'usr_2' }, expiresAt);
      commands.length = 0;
      expect(await counted.find('RefreshToken', 'rf')).not.toBeNull();
      expect(await counted.peek('Grant', 'gc')).toMatchObject({ payload: { accountId: 'usr_2' } });
      expect(commands).toEqual(finds(5));

      // Revoked by another instance just after a token of the grant was read here: refused at once.
      await counted.upsert('RefreshToken', 'rd', { grantId: 'gc' }, expiresAt);
      expect(await counted.find('RefreshToken', 'rd')).not.toBeNull();
      await bucketed.revokeByGrantId('gc');
      expect(await counted.find('RefreshToken', 'rd')).toBeNull();
      expect(await counted.peek('Grant', 'gc')).toBeNull();
    } finally {
      counted.stop();
      await monitored.close();
    }
  });

  it('ends a token or code in place, for every instance; one of an earlier release by its tombstone', async () => {
    const tombstones = async (key: string): Promise<number> =>
      (await Promise.all(bucketed.locations().ended.map((location) => at(location).countDocuments({ _id: key } as never)))).reduce((a, b) => a + b, 0);
    const other = new MongoOAuthModelStore(mongo.connection, mongo.capabilities, currentClock, BUCKETED);
    try {
      const expiresAt = new Date(clock.now().getTime() + 60_000);
      for (const model of ['AccessToken', 'AuthorizationCode', 'RefreshToken']) {
        await bucketed.upsert(model, 'e1', { grantId: 'ge' }, expiresAt);
        expect(await bucketed.find(model, 'e1')).not.toBeNull();
        await other.destroy(model, 'e1');
        expect(await bucketed.find(model, 'e1')).toBeNull();
        expect(await bucketed.peek(model, 'e1')).toBeNull();
        expect(await other.consume(model, 'e1', clock.now())).toBe(false);
        // Nothing went to the tombstones; saved again, it lives again.
        expect(await tombstones(`${model}:e1`)).toBe(0);
        await bucketed.upsert(model, 'e1', { grantId: 'ge', again: true }, expiresAt);
        expect((await other.find(model, 'e1'))?.payload).toEqual({ grantId: 'ge', again: true });
      }
      // A refresh token of an earlier release (no endsHere) ends by its tombstone, which is read.
      const legacy = { _id: 'RefreshToken:old1', model: 'RefreshToken', payload: '{"grantId":"ge"}', grantId: 'ge', expiresAt, savedAt: 1 };
      await at(bucketed.recordLocation('RefreshToken:old1')).insertOne(legacy as never);
      expect(await bucketed.find('RefreshToken', 'old1')).not.toBeNull();
      await other.destroy('RefreshToken', 'old1');
      expect(await tombstones('RefreshToken:old1')).toBe(1);
      expect(await bucketed.find('RefreshToken', 'old1')).toBeNull();
      expect(await bucketed.peek('RefreshToken', 'old1')).toBeNull();
    } finally {
      other.stop();
    }
  });

  it('ends the records carrying a copy of their grant when another instance destroys the grant', async () => {
    const other = new MongoOAuthModelStore(mongo.connection, mongo.capabilities, currentClock, BUCKETED);
    try {
      const expiresAt = new Date(clock.now().getTime() + 60_000);
      await bucketed.upsert('Grant', 'gx', { accountId: 'usr_1' }, expiresAt);
      await bucketed.upsert('AuthorizationCode', 'cx', { grantId: 'gx' }, expiresAt);
      await bucketed.upsert('RefreshToken', 'rx', { grantId: 'gx' }, expiresAt);
      expect(await bucketed.find('RefreshToken', 'rx')).not.toBeNull();
      await other.destroy('Grant', 'gx');
      expect(await bucketed.find('AuthorizationCode', 'cx')).toBeNull();
      expect(await bucketed.find('RefreshToken', 'rx')).toBeNull();
      expect(await bucketed.peek('Grant', 'gx')).toBeNull();
    } finally {
      other.stop();
    }
  });

  it('drops the index by grant an earlier release kept, at start', async () => {
    await raw('oauth_models').createIndex({ grantId: 1 }, { name: 'grantId_1' });
    expect((await raw('oauth_models').indexes()).map((i) => i.name)).toContain('grantId_1');
    await store.init();
    expect((await raw('oauth_models').indexes()).map((i) => i.name)).not.toContain('grantId_1');
    await store.init(); // and again, with nothing to drop
  });

  it('notices on its timer that the one collection from before holds documents (an earlier instance still running)', async () => {
    const watching = new MongoOAuthModelStore(mongo.connection, mongo.capabilities, currentClock, { ...BUCKETED, legacyCheckMs: 50 });
    try {
      await watching.init();
      const expiresAt = new Date(clock.now().getTime() + 60_000);
      await raw('oauth_models').insertOne({ _id: 'AuthorizationCode:late' as never, model: 'AuthorizationCode', payload: '{"grantId":"g-late"}', grantId: 'g-late', expiresAt });
      const until = Date.now() + 5_000;
      while ((await watching.find('AuthorizationCode', 'late')) === null) {
        if (Date.now() > until) throw new Error('the one collection was never checked again');
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(await watching.consume('AuthorizationCode', 'late', clock.now())).toBe(true);
      expect(await watching.consume('AuthorizationCode', 'late', clock.now())).toBe(false);
    } finally {
      watching.stop();
    }
  });

  it('still reads a session stored before sessions had their own collection, by id and by uid', async () => {
    const expiresAt = new Date(clock.now().getTime() + 60_000);
    await raw('oauth_models').insertOne({ _id: 'Session:old' as never, model: 'Session', payload: '{"uid":"u-old","accountId":"usr_1"}', uid: 'u-old', expiresAt });
    expect(await store.find('Session', 'old')).toEqual({ payload: { uid: 'u-old', accountId: 'usr_1' }, expiresAt, consumedAt: null });
    expect((await store.findByUid('Session', 'u-old'))?.payload).toEqual({ uid: 'u-old', accountId: 'usr_1' });
    // Saved again, it moves; the old copy is never read again.
    await store.upsert('Session', 'old', { uid: 'u-old', accountId: 'usr_2' }, expiresAt);
    expect((await store.findByUid('Session', 'u-old'))?.payload).toEqual({ uid: 'u-old', accountId: 'usr_2' });
    await store.destroy('Session', 'old');
    expect(await store.find('Session', 'old')).toBeNull();
  });

  it('consumes by inserting a marker, never rewriting the record', async () => {
    const expiresAt = new Date(clock.now().getTime() + 60_000);
    await store.upsert('AuthorizationCode', 'c1', { grantId: 'g1' }, expiresAt);
    const before = await raw('oauth_models').findOne({ _id: 'AuthorizationCode:c1' as never });
    const at = clock.now();
    expect(await store.consume('AuthorizationCode', 'c1', at)).toBe(true);
    expect(await raw('oauth_models').findOne({ _id: 'AuthorizationCode:c1' as never })).toEqual(before);
    expect(await raw('oauth_consumed').findOne({ _id: 'AuthorizationCode:c1' as never })).toEqual({ _id: 'AuthorizationCode:c1', at, expiresAt });
    // Ended in place (a code is never saved twice): the record says when; no tombstone.
    await store.destroy('AuthorizationCode', 'c1');
    expect(await store.find('AuthorizationCode', 'c1')).toBeNull();
    expect(await raw('oauth_models').findOne({ _id: 'AuthorizationCode:c1' as never })).toEqual({ ...before, endedAt: expect.any(Number) });
    expect(await ids('oauth_ended')).toEqual([]);
    expect(await ids('oauth_consumed')).toEqual(['AuthorizationCode:c1']); // until it expires
  });

  it('keeps the markers of revoked records until they expire: consumption is never undone', async () => {
    // A redemption that read the record before the grant was revoked must still lose when it
    // tries to consume afterwards: deleting the marker would let it win.
    const expiresAt = new Date(clock.now().getTime() + 60_000);
    await store.upsert('RefreshToken', 'r1', { grantId: 'g1' }, expiresAt);
    await store.upsert('RefreshToken', 'r2', { grantId: 'g2' }, expiresAt);
    expect(await store.consume('RefreshToken', 'r1', clock.now())).toBe(true);
    expect(await store.consume('RefreshToken', 'r2', clock.now())).toBe(true);
    await store.revokeByGrantId('g1');
    expect(await store.find('RefreshToken', 'r1')).toBeNull();
    expect(await store.find('RefreshToken', 'r2')).not.toBeNull();
    expect(await ids('oauth_consumed')).toEqual(['RefreshToken:r1', 'RefreshToken:r2']);
    await store.upsert('RefreshToken', 'r1', { grantId: 'g1' }, expiresAt);
    expect(await store.consume('RefreshToken', 'r1', clock.now())).toBe(false);
  });

  it('sweeps expired records and markers, keeping a marker as long as its re-upserted record', async () => {
    const t0 = clock.now().getTime();
    await store.upsert('AccessToken', 'short', { grantId: 'g' }, new Date(t0 + 1_000));
    await store.upsert('RefreshToken', 'extended', { grantId: 'g' }, new Date(t0 + 1_000));
    await store.upsert('Grant', 'forever', { grantId: 'g' }, null);
    expect(await store.consume('AccessToken', 'short', clock.now())).toBe(true);
    expect(await store.consume('RefreshToken', 'extended', clock.now())).toBe(true);
    expect(await store.consume('Grant', 'forever', clock.now())).toBe(true);
    await store.upsert('RefreshToken', 'extended', { grantId: 'g' }, new Date(t0 + 10_000));

    clock.advance(1_000);
    await store.sweep();
    expect(await ids('oauth_models')).toEqual(['Grant:forever', 'RefreshToken:extended']);
    expect(await ids('oauth_consumed')).toEqual(['Grant:forever', 'RefreshToken:extended']);
    expect((await store.find('RefreshToken', 'extended'))?.consumedAt).not.toBeNull();

    clock.advance(9_000);
    await store.sweep();
    expect(await ids('oauth_models')).toEqual(['Grant:forever']);
    expect(await ids('oauth_consumed')).toEqual(['Grant:forever']);
  });

  it('sweeps on its own timer where the server has no TTL indexes', async () => {
    const sweepClock = new FrozenClock(new Date());
    const sweeping = new MongoOAuthModelStore(mongo.connection, { ...mongo.capabilities, ttlIndexes: false }, sweepClock, { sweepEveryMs: 50, buckets: 1 });
    try {
      await sweeping.init();
      expect(sweeping.expiryMode).toBe('sweep');
      const soon = new Date(sweepClock.now().getTime() + 1_000);
      await sweeping.upsert('AuthorizationCode', 'timer', {}, soon);
      await sweeping.upsert('Session', 'kept', {}, new Date(sweepClock.now().getTime() + 60_000));
      expect(await sweeping.consume('AuthorizationCode', 'timer', sweepClock.now())).toBe(true);
      sweepClock.advance(1_000);
      const until = Date.now() + 5_000;
      while ((await raw('oauth_models').countDocuments({})) > 0 || (await raw('oauth_consumed').countDocuments({})) > 0) {
        if (Date.now() > until) throw new Error('the sweep never ran');
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(await ids('oauth_sessions')).toEqual(['Session:kept']);
    } finally {
      sweeping.stop();
    }
  });

  it('keeps one record under concurrent first upserts of many ids at once', async () => {
    await Promise.all(
      Array.from({ length: 10 }, (_, id) => Array.from({ length: 10 }, (_, n) => store.upsert('Session', `s${id}`, { n }, null))).flat(),
    );
    expect(await raw('oauth_sessions').countDocuments({})).toBe(10);
  });

  it('reports an unreachable server as UNAVAILABLE', async () => {
    const lost = await openMongo(mongoUriFor(uniqueName('oauth_lost')), { timeoutMs: 1_000 });
    const orphan = new MongoOAuthModelStore(lost.connection, lost.capabilities);
    await lost.close();
    await expect(orphan.find('Session', 'x')).rejects.toBeInstanceOf(UnavailableError);
    await expect(orphan.consume('Session', 'x', new Date())).rejects.toBeInstanceOf(UnavailableError);
  });
});
