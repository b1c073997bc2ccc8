import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { openMongo, type MongoContext } from '../../../../src/stores/mongo/mongo-connection.ts';
import { MongoAuditStore } from '../../../../src/stores/mongo/mongo-audit-store.ts';
import { describeAuditStore } from '../../../contracts/audit-store.contract.ts';
import { mongoUriFor, uniqueName } from '../../../support/unique.ts';

let mongo: MongoContext;
let store: MongoAuditStore;

beforeAll(async () => {
  mongo = await openMongo(mongoUriFor(uniqueName('audit')), { timeoutMs: 5_000 });
  store = new MongoAuditStore(mongo.connection);
  await store.init();
});

afterAll(async () => {
  await mongo.connection.dropDatabase();
  await mongo.close();
});

// The collection name is fixed, so each case starts from an emptied collection.
describeAuditStore('mongodb', async () => {
  await mongo.connection.collection('audit_events').deleteMany({});
  return store;
});

describe('mongodb audit store: what the contract cannot see', () => {
  it('creates the index the newest-first listing and its cursor use', async () => {
    const indexes = await mongo.connection.collection('audit_events').indexes();
    expect(indexes).toEqual(expect.arrayContaining([expect.objectContaining({ key: { orgId: 1, at: -1, _id: -1 } })]));
  });

  it('survives a second init on the existing collection', async () => {
    await expect(store.init()).resolves.toBeUndefined();
  });
});
