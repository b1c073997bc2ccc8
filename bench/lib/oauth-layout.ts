/**
 * Where Tessera's MongoDB stores keep an OAuth record and a connected app's last use, for the
 * benchmark's bulk copies: asked of the stores themselves (MongoOAuthModelStore.recordLocation,
 * MongoConnectedAppStore.usageLocation), so that a copy lands where the store reads it, however
 * it spreads its documents — one collection on MongoDB, buckets in databases of their own on
 * FerretDB (src/stores/mongo/bucketed-collection.ts). Connected apps are one collection.
 */
import type { Connection } from 'mongoose';
import type { Location } from '../../src/stores/mongo/bucketed-collection.ts';
import { openMongo } from '../../src/stores/mongo/mongo-connection.ts';
import { MongoConnectedAppStore } from '../../src/stores/mongo/mongo-connected-app-store.ts';
import { MongoOAuthModelStore } from '../../src/stores/mongo/mongo-oauth-model-store.ts';
import type { Doc } from './record-clones.ts';

export interface OAuthLayout {
  connection: Connection;
  /** Where an OAuth record (`<model>:<id>`, not a session or interaction) of this key lives. */
  recordsOf(_id: string): Location;
  /** A stored record by key: where the store puts it, or (written before its layout) the one collection. */
  readRecord(_id: string): Promise<Doc | null>;
  /** Where a connected app's last use (by its grant id) lives. */
  usageOf(grantId: string): Location;
  /** A connected app's last use, where the store keeps it. */
  readUsage(grantId: string): Promise<Doc | null>;
  close(): Promise<void>;
}

/** The collection the store had before it spread records over buckets, still read by it. */
const LEGACY_RECORDS = 'oauth_models';

export async function openOAuthLayout(mongoUri: string): Promise<OAuthLayout> {
  const mongo = await openMongo(mongoUri, { timeoutMs: 10_000 });
  // Only asked where it keeps things: never initialised, so it starts no sweeps.
  const store = new MongoOAuthModelStore(mongo.connection, mongo.capabilities);
  const recordsOf = (_id: string): Location => store.recordLocation(_id);
  const client = mongo.connection.getClient();
  const collection = (location: Location) => client.db(location.database).collection<Doc>(location.collection);
  const apps = new MongoConnectedAppStore(mongo.connection);
  await apps.init();
  const usageOf = (grantId: string): Location => apps.usageLocation(grantId);
  return {
    connection: mongo.connection,
    recordsOf,
    usageOf,
    readUsage: async (grantId) => (await collection(usageOf(grantId)).findOne({ _id: grantId })) as Doc | null,
    readRecord: async (_id) =>
      ((await collection(recordsOf(_id)).findOne({ _id })) as Doc | null) ?? ((await mongo.connection.db!.collection<Doc>(LEGACY_RECORDS).findOne({ _id })) as Doc | null),
    close: () => mongo.close(),
  };
}

/**
 * Documents grouped by collection, inserted `batch` at a time per collection (bulk inserts:
 * unordered, so one batch is one round trip however the documents are spread).
 */
export class BulkWriter {
  private readonly connection: Connection;
  private readonly batch: number;
  private readonly pending = new Map<string, { location: Location; docs: Doc[] }>();
  private pendingDocs = 0;
  readonly written: Record<string, number> = {};

  constructor(connection: Connection, batch = 1_000) {
    this.connection = connection;
    this.batch = batch;
  }

  /** A document for this collection (a name in the deployment's database, or a location). */
  async add(where: string | Location, doc: Doc): Promise<void> {
    const location = typeof where === 'string' ? { database: this.connection.db!.databaseName, collection: where } : where;
    const key = `${location.database}.${location.collection}`;
    let entry = this.pending.get(key);
    if (!entry) this.pending.set(key, (entry = { location, docs: [] }));
    entry.docs.push(doc);
    this.pendingDocs += 1;
    if (entry.docs.length >= this.batch) await this.write(key);
    // Thousands of buckets each fill slowly: everything goes out at a bound, not only full batches.
    if (this.pendingDocs >= this.batch * 20) await this.flush();
  }

  async flush(): Promise<void> {
    for (const key of [...this.pending.keys()]) await this.write(key);
  }

  private async write(key: string): Promise<void> {
    const entry = this.pending.get(key);
    this.pending.delete(key);
    if (!entry || entry.docs.length === 0) return;
    this.pendingDocs -= entry.docs.length;
    const { location, docs } = entry;
    await this.connection.getClient().db(location.database).collection<Doc>(location.collection).insertMany(docs, { ordered: false });
    // Counted by logical collection: a bucket (<db>_oauth_models_0.b01f) → oauth_models.
    const base = this.connection.db!.databaseName;
    const logical = location.database === base ? location.collection : location.database.slice(base.length + 1).replace(/_[0-9a-f]+$/, '');
    this.written[logical] = (this.written[logical] ?? 0) + docs.length;
  }
}
