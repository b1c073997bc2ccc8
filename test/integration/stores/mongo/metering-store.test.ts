import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { openMongo, type MongoContext } from '../../../../src/stores/mongo/mongo-connection.ts';
import { MongoMeteringStore } from '../../../../src/stores/mongo/mongo-metering-store.ts';
import { describeMeteringStore } from '../../../contracts/metering-store.contract.ts';
import { mongoUriFor, uniqueName } from '../../../support/unique.ts';

let mongo: MongoContext;
let store: MongoMeteringStore;

beforeAll(async () => {
  mongo = await openMongo(mongoUriFor(uniqueName('metering')), { timeoutMs: 5_000 });
  store = new MongoMeteringStore(mongo.connection);
  await store.init();
});

afterAll(async () => {
  await mongo.connection.dropDatabase();
  await mongo.close();
});

// Every case uses ids of its own: the shared collections need no emptying.
describeMeteringStore('mongodb', async () => store);

describe('mongodb metering store: what the contract cannot see', () => {
  it('reads a credential’s series through an index, and writes by primary key', async () => {
    const indexes = await mongo.connection.collection('usage_daily').indexes();
    expect(indexes).toEqual(expect.arrayContaining([expect.objectContaining({ key: { kind: 1, credentialId: 1, day: 1 } })]));
    await store.add({ credential: { kind: 'oauth', id: 'grt_raw' }, orgId: 'org_raw', day: '2026-11-30', requests: 2, credits: 3 });
    expect(await mongo.connection.collection('usage_daily').findOne({ _id: 'oauth:grt_raw:2026-11-30' as never })).toEqual({
      _id: 'oauth:grt_raw:2026-11-30',
      kind: 'oauth',
      credentialId: 'grt_raw',
      orgId: 'org_raw',
      day: '2026-11-30',
      requests: 2,
      credits: 3,
    });
  });
});
