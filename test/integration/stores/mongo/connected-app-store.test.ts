import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { openMongo, type MongoContext } from '../../../../src/stores/mongo/mongo-connection.ts';
import { MongoConnectedAppStore } from '../../../../src/stores/mongo/mongo-connected-app-store.ts';
import { describeConnectedAppStore } from '../../../contracts/connected-app-store.contract.ts';
import { collectionAt, emptyLogical } from '../../../support/buckets.ts';
import { mongoUriFor, uniqueName } from '../../../support/unique.ts';

let mongo: MongoContext;
let store: MongoConnectedAppStore;

beforeAll(async () => {
  mongo = await openMongo(mongoUriFor(uniqueName('connected_apps')), { timeoutMs: 5_000 });
  store = new MongoConnectedAppStore(mongo.connection);
  await store.init();
});

afterAll(async () => {
  await emptyLogical(mongo.connection, 'connected_app_usage');
  await mongo.connection.dropDatabase();
  await mongo.close();
});

// The collection names are fixed, so each case starts from emptied collections.
describeConnectedAppStore('mongodb', async () => {
  await store.init(); // idempotent: a second start must not fail on the existing collections
  await mongo.connection.collection('connected_apps').deleteMany({});
  await emptyLogical(mongo.connection, 'connected_app_usage');
  return store;
});

describe('mongodb connected app store: what the contract cannot see', () => {
  it('creates the listing indexes', async () => {
    const indexes = await mongo.connection.collection('connected_apps').indexes();
    expect(indexes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ key: { userId: 1, orgId: 1, createdAt: -1 } }),
        expect.objectContaining({ key: { orgId: 1, createdAt: -1 } }),
      ]),
    );
  });

  it('stores the grant id as _id, dates as dates, and use in its own collection, never rewriting the grant', async () => {
    await mongo.connection.collection('connected_apps').deleteMany({});
    await emptyLogical(mongo.connection, 'connected_app_usage');
    const createdAt = new Date('2026-01-01T00:00:00Z');
    await store.upsert({
      id: 'grt_raw',
      userId: 'usr_raw',
      orgId: 'org_raw',
      clientId: 'cli_raw',
      scopes: ['openid'],
      limits: { rateLimitPerMinute: 5, rateLimitPerDay: null, dailySpendCap: null },
      createdAt,
      lastUsedAt: null,
      revokedAt: null,
    });
    const grants = mongo.connection.collection('connected_apps');
    const before = await grants.findOne({ _id: 'grt_raw' as never });
    expect(before).toEqual({
      _id: 'grt_raw',
      userId: 'usr_raw',
      orgId: 'org_raw',
      clientId: 'cli_raw',
      scopes: ['openid'],
      limits: { rateLimitPerMinute: 5, rateLimitPerDay: null, dailySpendCap: null },
      createdAt,
      revokedAt: null,
    });
    expect(before?.['createdAt']).toBeInstanceOf(Date);

    const usedAt = new Date('2026-02-02T00:00:00Z');
    await store.touchLastUsed('grt_raw', usedAt);
    expect(await grants.findOne({ _id: 'grt_raw' as never })).toEqual(before);
    expect(await collectionAt(mongo.connection, store.usageLocation('grt_raw')).findOne({ _id: 'grt_raw' as never })).toEqual({ _id: 'grt_raw', lastUsedAt: usedAt });
    expect((await store.findById('grt_raw'))?.lastUsedAt).toEqual(usedAt);
  });
});
