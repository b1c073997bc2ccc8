import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { systemClock } from '../../../../src/domain/clock.ts';
import { openMongo, type MongoContext } from '../../../../src/stores/mongo/mongo-connection.ts';
import { MongoSessionStore } from '../../../../src/stores/mongo/mongo-session-store.ts';
import { describeSessionStore } from '../../../contracts/session-store.contract.ts';
import { mongoUriFor, uniqueName } from '../../../support/unique.ts';

let mongo: MongoContext;
let store: MongoSessionStore;

beforeAll(async () => {
  mongo = await openMongo(mongoUriFor(uniqueName('sessions')), { timeoutMs: 5_000 });
  store = new MongoSessionStore(mongo.connection, mongo.capabilities, systemClock);
  await store.init();
});

afterAll(async () => {
  store.stop();
  await mongo.connection.dropDatabase();
  await mongo.close();
});

// Every case uses ids of its own: the shared collection needs no emptying.
describeSessionStore('mongodb', async () => store);

describe('mongodb session store: what the contract cannot see', () => {
  it('finds a user’s sessions through an index, and removes expired ones (TTL index or sweep)', async () => {
    const indexes = await mongo.connection.collection('sessions').indexes();
    expect(indexes).toEqual(expect.arrayContaining([expect.objectContaining({ key: { userId: 1, createdAt: -1 } }), expect.objectContaining({ key: { expiresAt: 1 } })]));
  });
});
