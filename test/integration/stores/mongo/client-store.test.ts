import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { openMongo, type MongoContext } from '../../../../src/stores/mongo/mongo-connection.ts';
import { MongoClientStore } from '../../../../src/stores/mongo/mongo-client-store.ts';
import { describeClientStore } from '../../../contracts/client-store.contract.ts';
import { mongoUriFor, uniqueName } from '../../../support/unique.ts';

let mongo: MongoContext;
let store: MongoClientStore;

beforeAll(async () => {
  mongo = await openMongo(mongoUriFor(uniqueName('oauth_clients')), { timeoutMs: 5_000 });
  store = new MongoClientStore(mongo.connection);
  await store.init();
});

afterAll(async () => {
  await mongo.connection.dropDatabase();
  await mongo.close();
});

// The collection name is fixed, so each case starts from an emptied collection.
describeClientStore('mongodb', async () => {
  await store.init(); // idempotent: a second start must not fail on the existing collection
  await mongo.connection.collection('oauth_clients').deleteMany({});
  return store;
});

describe('mongodb OAuth client store: what the contract cannot see', () => {
  it('keys clients by id and needs no other index', async () => {
    const indexes = await mongo.connection.collection('oauth_clients').indexes();
    expect(indexes.map((i) => i.key)).toEqual([{ _id: 1 }]);
  });

  it('stores the client id as _id and dates as dates', async () => {
    await mongo.connection.collection('oauth_clients').deleteMany({});
    const createdAt = new Date('2026-01-01T00:00:00Z');
    await store.insert({
      id: 'cli_raw',
      name: 'Raw',
      type: 'resource_server',
      secretHash: 'a'.repeat(64),
      redirectUris: [],
      scopes: ['introspect'],
      disabled: false,
      orgId: 'org_bound',
      createdAt,
    });
    const raw = await mongo.connection.collection('oauth_clients').findOne({ _id: 'cli_raw' as never });
    expect(raw).toEqual({
      _id: 'cli_raw',
      name: 'Raw',
      type: 'resource_server',
      secretHash: 'a'.repeat(64),
      redirectUris: [],
      scopes: ['introspect'],
      disabled: false,
      orgId: 'org_bound',
      createdAt,
    });
    expect(raw?.['createdAt']).toBeInstanceOf(Date);
  });
});
