import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { openMongo, type MongoContext } from '../../../../src/stores/mongo/mongo-connection.ts';
import { MongoApiKeyStore } from '../../../../src/stores/mongo/mongo-api-key-store.ts';
import { describeApiKeyStore } from '../../../contracts/api-key-store.contract.ts';
import { collectionAt, emptyLogical } from '../../../support/buckets.ts';
import { mongoUriFor, uniqueName } from '../../../support/unique.ts';

let mongo: MongoContext;
let store: MongoApiKeyStore;

beforeAll(async () => {
  mongo = await openMongo(mongoUriFor(uniqueName('api_keys')), { timeoutMs: 5_000 });
  store = new MongoApiKeyStore(mongo.connection);
  await store.init();
});

afterAll(async () => {
  await emptyLogical(mongo.connection, 'api_key_usage');
  await mongo.connection.dropDatabase();
  await mongo.close();
});

// The collection name is fixed, so each case starts from an emptied collection.
describeApiKeyStore('mongodb', async () => {
  await store.init(); // idempotent: a second start must not fail on the existing collection
  await mongo.connection.collection('api_keys').deleteMany({});
  await emptyLogical(mongo.connection, 'api_key_usage');
  return store;
});

describe('mongodb API key store: what the contract cannot see', () => {
  it('creates the unique key id index and the listing indexes (the hash is the primary key)', async () => {
    const indexes = await mongo.connection.collection('api_keys').indexes();
    expect(indexes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ key: { keyId: 1 }, unique: true }),
        expect.objectContaining({ key: { orgId: 1, createdAt: -1 } }),
        expect.objectContaining({ key: { orgId: 1, userId: 1, createdAt: -1 } }),
      ]),
    );
  });

  it('stores dates as dates and limits as a subdocument, under the hash as _id', async () => {
    await mongo.connection.collection('api_keys').deleteMany({});
    const createdAt = new Date('2026-01-01T00:00:00Z');
    await store.insert({
      id: 'key_raw',
      orgId: 'org_raw',
      userId: 'usr_raw',
      name: null,
      scopes: ['keys:read'],
      env: 'test',
      hash: 'a'.repeat(64),
      start: null,
      active: true,
      createdAt,
      lastUsedAt: null,
      lastUsedFrom: null,
      expiresAt: null,
      revokedAt: null,
      limits: { rateLimitPerMinute: 30, rateLimitPerDay: null, dailySpendCap: null },
      rotatedFrom: null,
      rotatedTo: null,
      disabledByRole: null,
    });
    const raw = await mongo.connection.collection('api_keys').findOne({ _id: 'a'.repeat(64) as never });
    expect(raw).toMatchObject({ _id: 'a'.repeat(64), keyId: 'key_raw', createdAt, limits: { rateLimitPerMinute: 30, rateLimitPerDay: null, dailySpendCap: null }, revokedAt: null });
    expect(raw?.['createdAt']).toBeInstanceOf(Date);
  });

  it('records use in its own collection, never rewriting the key document', async () => {
    const before = await mongo.connection.collection('api_keys').findOne({ keyId: 'key_raw' });
    const usedAt = new Date('2026-02-02T00:00:00Z');
    await store.touchLastUsed('key_raw', usedAt, '198.51.100.4');
    expect(await mongo.connection.collection('api_keys').findOne({ keyId: 'key_raw' })).toEqual(before);
    expect(await collectionAt(mongo.connection, store.usageLocation('key_raw')).findOne({ _id: 'key_raw' as never })).toEqual({ _id: 'key_raw', lastUsedAt: usedAt, lastUsedFrom: '198.51.100.4' });
    expect((await store.findById('key_raw'))?.lastUsedAt).toEqual(usedAt);
  });
});
