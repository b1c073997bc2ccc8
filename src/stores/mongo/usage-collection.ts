import { Schema, type Connection } from 'mongoose';
import { ConflictError } from '../../errors/index.ts';
import { BucketedCollection, FERRETDB_PER_DATABASE, type Location } from './bucketed-collection.ts';
import { serialized, type KeyedQueue } from './ferret-write-queue.ts';

interface UsageDoc {
  _id: string;
  lastUsedAt: Date;
  lastUsedFrom?: string | null;
}

/** A record's last use: when, and (for API keys) from where. */
export interface LastUse {
  at: Date;
  from: string | null;
}

/** On FerretDB, usage grows with every key and connected app: spread as the OAuth records are. */
const FERRETDB_BUCKETS = 4096;

/**
 * When each record (an API key, a connected app) was last used, in a collection of its own: the
 * one write on the request path (coalesced, but from every instance) never rewrites the record
 * itself, so it can never race a revocation or an edit — not even on FerretDB, whose updates
 * rewrite whole documents non-atomically. On FerretDB, which scans a whole collection for every
 * update by `_id`, the documents are spread over buckets (bucketed-collection.ts): a touch
 * rewrites one small collection, however many keys and apps there are.
 */
export class UsageCollection {
  private readonly connection: Connection;
  private readonly modelName: string;
  private readonly collection: string;
  private readonly schema: Schema<UsageDoc>;
  private documents: BucketedCollection<UsageDoc> | null = null;
  private queue: KeyedQueue | null = null;
  private watch: { stop(): void } | null = null;

  constructor(connection: Connection, modelName: string, collection: string) {
    this.connection = connection;
    this.modelName = modelName;
    this.collection = collection;
    this.schema = new Schema<UsageDoc>(
      { _id: { type: String, required: true }, lastUsedAt: { type: Date, required: true }, lastUsedFrom: { type: String, default: null } },
      { collection, versionKey: false, strict: 'throw' },
    );
  }

  /** `queue`: FerretDB's write queue (ferret-write-queue.ts), null on MongoDB; it also decides the layout. */
  async init(queue: KeyedQueue | null): Promise<void> {
    this.watch?.stop();
    const layout = { buckets: queue ? FERRETDB_BUCKETS : 1, perDatabase: FERRETDB_PER_DATABASE };
    this.documents = new BucketedCollection(this.connection, this.modelName, this.collection, this.schema, layout);
    this.watch = await this.documents.open();
    this.queue = queue;
  }

  private get docs(): BucketedCollection<UsageDoc> {
    if (!this.documents) throw new Error(`${this.collection} used before init()`);
    return this.documents;
  }

  /**
   * lastUsedAt = max(lastUsedAt, at): concurrent touches never move it backwards. `from`, when
   * given, is written as it comes: touches are coalesced to one per interval, so the last written
   * is the last recorded use's, give or take a race within the interval.
   */
  async touch(id: string, at: Date, from?: string | null): Promise<void> {
    const update = from === undefined ? { $max: { lastUsedAt: at } } : { $max: { lastUsedAt: at }, $set: { lastUsedFrom: from } };
    const write = () => this.docs.update(id, update, { upsert: true }, () => new ConflictError('Concurrent first use', 'id'));
    await serialized(this.queue, `usage:${this.collection}:${id}`, async () => {
      try {
        await write();
      } catch (error) {
        // Two first touches can both try to insert the usage document; the loser retries.
        if (!(error instanceof ConflictError)) throw error;
        await write();
      }
    });
  }

  /** Where the usage of this id is kept (the benchmark's seeding writes there). */
  locate(id: string): Location {
    return this.docs.locate(id);
  }

  /** Last use of each of these ids (absent: never used). */
  async lastUsed(ids: string[]): Promise<Map<string, LastUse>> {
    if (ids.length === 0) return new Map();
    const docs = await this.docs.findByIds(ids);
    return new Map(docs.map((d) => [d._id, { at: new Date(d.lastUsedAt), from: d.lastUsedFrom ?? null }]));
  }
}
