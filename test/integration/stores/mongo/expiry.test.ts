import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Schema, type Model } from 'mongoose';
import { ensureExpiry } from '../../../../src/stores/mongo/expiry.ts';
import { openMongo, type MongoContext } from '../../../../src/stores/mongo/mongo-connection.ts';
import { mongoUriFor, uniqueName } from '../../../support/unique.ts';

let mongo: MongoContext;
let model: Model<never>;

beforeAll(async () => {
  mongo = await openMongo(mongoUriFor(uniqueName('expiry')), { timeoutMs: 5_000 });
  model = mongo.connection.model('Expiring', new Schema({ _id: String, expiresAt: Date }, { collection: 'expiring', versionKey: false })) as unknown as Model<never>;
  await model.createCollection();
});

afterAll(async () => {
  await mongo.connection.dropDatabase();
  await mongo.close();
});

describe('ensureExpiry', () => {
  it('uses a TTL index where the server has them and a sweep where it does not', async () => {
    const handle = await ensureExpiry(model, 'expiresAt', mongo.capabilities, 60_000);
    expect(handle.mode).toBe(mongo.capabilities.ttlIndexes ? 'ttl-index' : 'sweep');
    const indexes = await mongo.connection.collection('expiring').indexes();
    const index = indexes.find((i) => JSON.stringify(i.key) === JSON.stringify({ expiresAt: 1 }));
    expect(index).toBeDefined();
    expect(index?.expireAfterSeconds).toBe(mongo.capabilities.ttlIndexes ? 0 : undefined);
    handle.stop();
  });

  it('sweeps documents whose time has passed and keeps the others', async () => {
    const now = new Date('2026-06-01T00:00:00Z');
    const handle = await ensureExpiry(model, 'expiresAt', mongo.capabilities, 60_000, () => now);
    await mongo.connection.collection('expiring').insertMany([
      { _id: 'past' as never, expiresAt: new Date('2026-05-31T23:59:59Z') },
      { _id: 'now' as never, expiresAt: now },
      { _id: 'future' as never, expiresAt: new Date('2026-06-01T00:00:01Z') },
    ]);
    expect(await handle.sweep()).toBe(2);
    const left = await mongo.connection.collection('expiring').find({}).toArray();
    expect(left.map((d) => d._id)).toEqual(['future']);
    handle.stop();
  });

  it('sweeps on its own timer in sweep mode', async () => {
    const handle = await ensureExpiry(model, 'expiresAt', { ...mongo.capabilities, ttlIndexes: false }, 100);
    await mongo.connection.collection('expiring').insertOne({ _id: 'timer' as never, expiresAt: new Date(Date.now() - 1_000) });
    const until = Date.now() + 5_000;
    while ((await mongo.connection.collection('expiring').countDocuments({ _id: 'timer' as never })) > 0) {
      if (Date.now() > until) throw new Error('the sweep never ran');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    handle.stop();
  });
});
