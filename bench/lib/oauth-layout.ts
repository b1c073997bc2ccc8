/**
 * Where Tessera's MongoDB OAuth store keeps a record, for the benchmark's bulk copies: asked of
 * the store itself (MongoOAuthModelStore.collections(), bucketOf), so that a copy lands where the
 * store reads it, however the store spreads its records — one collection on MongoDB, buckets on
 * FerretDB (src/stores/mongo/bucketed-collection.ts). The store's own collections are written as
 * the store writes them; the connected apps' are one collection each.
 */
import type { Connection } from 'mongoose';
import { bucketOf } from '../../src/stores/mongo/bucketed-collection.ts';
import { openMongo } from '../../src/stores/mongo/mongo-connection.ts';
import { MongoOAuthModelStore } from '../../src/stores/mongo/mongo-oauth-model-store.ts';
import type { Doc } from './record-clones.ts';

export interface OAuthLayout {
  connection: Connection;
  /** The collection an OAuth record (`<model>:<id>`, not a session or interaction) of this key lives in. */
  recordsOf(_id: string): string;
  /** A stored record by key: where the store puts it, or (written before its layout) the one collection. */
  readRecord(_id: string): Promise<Doc | null>;
  close(): Promise<void>;
}

/** The collection the store had before it spread records over buckets, still read by it. */
const LEGACY_RECORDS = 'oauth_models';

export async function openOAuthLayout(mongoUri: string): Promise<OAuthLayout> {
  const mongo = await openMongo(mongoUri, { timeoutMs: 10_000 });
  // Only asked where it keeps things: never initialised, so it starts no sweeps.
  const { records } = new MongoOAuthModelStore(mongo.connection, mongo.capabilities).collections();
  const db = mongo.connection.db!;
  const recordsOf = (_id: string): string => records[records.length === 1 ? 0 : bucketOf(_id, records.length)]!;
  return {
    connection: mongo.connection,
    recordsOf,
    readRecord: async (_id) =>
      ((await db.collection<Doc>(recordsOf(_id)).findOne({ _id })) as Doc | null) ?? ((await db.collection<Doc>(LEGACY_RECORDS).findOne({ _id })) as Doc | null),
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
  private readonly pending = new Map<string, Doc[]>();
  readonly written: Record<string, number> = {};

  constructor(connection: Connection, batch = 1_000) {
    this.connection = connection;
    this.batch = batch;
  }

  async add(collection: string, doc: Doc): Promise<void> {
    let docs = this.pending.get(collection);
    if (!docs) this.pending.set(collection, (docs = []));
    docs.push(doc);
    if (docs.length >= this.batch) await this.write(collection);
  }

  async flush(): Promise<void> {
    for (const collection of [...this.pending.keys()]) await this.write(collection);
  }

  private async write(collection: string): Promise<void> {
    const docs = this.pending.get(collection) ?? [];
    this.pending.delete(collection);
    if (docs.length === 0) return;
    await this.connection.db!.collection<Doc>(collection).insertMany(docs, { ordered: false });
    // Counted by logical collection: oauth_models_b1f → oauth_models.
    const logical = collection.replace(/_b[0-9a-f]{2}$/, '');
    this.written[logical] = (this.written[logical] ?? 0) + docs.length;
  }
}
