import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { openMongo, type MongoContext } from '../../../../src/stores/mongo/mongo-connection.ts';
import { MongoMembershipStore } from '../../../../src/stores/mongo/mongo-membership-store.ts';
import { MongoOrganizationStore } from '../../../../src/stores/mongo/mongo-organization-store.ts';
import { MongoUserStore } from '../../../../src/stores/mongo/mongo-user-store.ts';
import { describeAccountStores } from '../../../contracts/account-stores.contract.ts';
import { mongoUriFor, uniqueName } from '../../../support/unique.ts';

let mongo: MongoContext;

beforeAll(async () => {
  mongo = await openMongo(mongoUriFor(uniqueName('accounts')), { timeoutMs: 5_000 });
});

afterAll(async () => {
  await mongo.connection.dropDatabase();
  await mongo.close();
});

// Each case gets fresh collections (own database prefix via model names is not possible with
// fixed collection names, so the collections are emptied instead).
describeAccountStores('mongodb', async () => {
  const users = new MongoUserStore(mongo.connection);
  const organizations = new MongoOrganizationStore(mongo.connection);
  const memberships = new MongoMembershipStore(mongo.connection);
  await Promise.all([users.init(), organizations.init(), memberships.init()]);
  await Promise.all(['users', 'organizations', 'memberships'].map((c) => mongo.connection.collection(c).deleteMany({})));
  return { users, organizations, memberships };
});

describe('mongodb account stores: what the contract cannot see', () => {
  it('creates the unique index on the normalized email', async () => {
    const indexes = await mongo.connection.collection('users').indexes();
    expect(indexes).toEqual(expect.arrayContaining([expect.objectContaining({ key: { emailNormalized: 1 }, unique: true })]));
  });

  it('creates the indexes membership queries use', async () => {
    const indexes = await mongo.connection.collection('memberships').indexes();
    expect(indexes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ key: { userId: 1, orgId: 1 }, unique: true }),
        expect.objectContaining({ key: { orgId: 1, createdAt: 1 } }),
      ]),
    );
  });

  it('reports which server it runs on', () => {
    expect(['mongodb', 'ferretdb']).toContain(mongo.capabilities.server);
    expect(mongo.capabilities.ttlIndexes).toBe(mongo.capabilities.server === 'mongodb');
  });
});
