import { Schema, type Connection, type Model } from 'mongoose';
import { ConflictError } from '../../errors/index.ts';
import { serialized, type KeyedQueue } from './ferret-write-queue.ts';
import { mongoCall } from './mongo-errors.ts';
import { ensureCollection } from './ensure-collection.ts';

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

/**
 * When each record (an API key, a connected app) was last used, in a collection of its own: the
 * one write on the request path (coalesced, but from every instance) never rewrites the record
 * itself, so it can never race a revocation or an edit — not even on FerretDB, whose updates
 * rewrite whole documents non-atomically.
 */
export class UsageCollection {
  private readonly model: Model<UsageDoc>;
  private queue: KeyedQueue | null = null;

  constructor(connection: Connection, modelName: string, collection: string) {
    const schema = new Schema<UsageDoc>(
      { _id: { type: String, required: true }, lastUsedAt: { type: Date, required: true }, lastUsedFrom: { type: String, default: null } },
      { collection, versionKey: false, strict: 'throw' },
    );
    this.model = connection.models[modelName] ?? connection.model<UsageDoc>(modelName, schema);
  }

  async init(queue: KeyedQueue | null): Promise<void> {
    await ensureCollection(this.model);
    this.queue = queue;
  }

  /**
   * lastUsedAt = max(lastUsedAt, at): concurrent touches never move it backwards. `from`, when
   * given, is written as it comes: touches are coalesced to one per interval, so the last written
   * is the last recorded use's, give or take a race within the interval.
   */
  async touch(id: string, at: Date, from?: string | null): Promise<void> {
    const update = from === undefined ? { $max: { lastUsedAt: at } } : { $max: { lastUsedAt: at }, $set: { lastUsedFrom: from } };
    const write = () =>
      mongoCall(
        () => this.model.updateOne({ _id: id }, update, { upsert: true }).exec(),
        () => new ConflictError('Concurrent first use', 'id'),
      );
    await serialized(this.queue, `usage:${this.model.collection.name}:${id}`, async () => {
      try {
        await write();
      } catch (error) {
        // Two first touches can both try to insert the usage document; the loser retries.
        if (!(error instanceof ConflictError)) throw error;
        await write();
      }
    });
  }

  /** Last use of each of these ids (absent: never used). */
  async lastUsed(ids: string[]): Promise<Map<string, LastUse>> {
    if (ids.length === 0) return new Map();
    // One id (a single key or grant read) is asked for by equality: FerretDB answers that from its
    // primary-key index, but scans the collection for $in.
    const filter = ids.length === 1 ? { _id: ids[0]! } : { _id: { $in: ids } };
    const docs = await mongoCall(() => this.model.find(filter).lean<UsageDoc[]>().exec());
    return new Map(docs.map((d) => [d._id, { at: new Date(d.lastUsedAt), from: d.lastUsedFrom ?? null }]));
  }
}
