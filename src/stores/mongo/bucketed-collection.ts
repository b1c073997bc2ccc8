import type { Connection, Model, QueryFilter, Schema, UpdateQuery } from 'mongoose';
import type { ExpiryHandle } from './expiry.ts';
import { ensureExpiry } from './expiry.ts';
import { ensureCollection } from './ensure-collection.ts';
import type { MongoCapabilities } from './mongo-connection.ts';
import { mongoCall } from './mongo-errors.ts';

/** Physical collections per logical one on FerretDB; one on MongoDB. */
export const FERRETDB_BUCKETS = 256;

/**
 * One logical collection of documents keyed by a string `_id`, kept in one MongoDB collection —
 * or, on FerretDB, spread over `count` collections by a hash of the `_id`.
 *
 * Why: FerretDB 1.24 on SQLite uses no index at all, the `_id` one included (its pushed-down
 * filter is not the expression its indexes are built on: `EXPLAIN` says SCAN). Every read, update
 * and delete by `_id` is a scan of the collection, ~1.2 µs a document: 120 ms at 100,000. Spread
 * over 256 collections, a lookup scans a 256th of them, so the cost stays small while the data
 * grows a hundredfold. MongoDB answers by its `_id` index and keeps one collection.
 *
 * `legacy`: where the logical collection was one collection before (a FerretDB deployment that
 * ran an earlier Tessera), documents not found in their bucket are looked for there — but only
 * while it holds any. Most reads on the token endpoint are misses (a tombstone or a consumption
 * marker that is not there), and each would cost a second round trip; so whether the one
 * collection is empty is checked at init and every `legacyCheckMs` after (an earlier instance
 * still running during an upgrade may write there), and an empty one is not read.
 */
export class BucketedCollection<T extends { _id: string; expiresAt?: Date | null }> {
  readonly count: number;
  private readonly buckets: Array<Model<T>>;
  private readonly legacy: Model<T> | null;
  /** Whether the one collection from before held documents when last checked (read until known). */
  private legacyInUse = true;

  constructor(connection: Connection, modelName: string, collection: string, schema: Schema<T>, count: number) {
    this.count = count;
    const model = (name: string, physical: string): Model<T> => (connection.models[name] as Model<T> | undefined) ?? connection.model<T>(name, schema, physical);
    this.buckets = count === 1 ? [model(modelName, collection)] : Array.from({ length: count }, (_, i) => model(`${modelName}_${bucketName(i)}`, `${collection}_${bucketName(i)}`));
    this.legacy = count === 1 ? null : model(modelName, collection);
  }

  /** The collection a document of this `_id` lives in. */
  of(_id: string): Model<T> {
    return this.buckets[this.count === 1 ? 0 : bucketOf(_id, this.count)]!;
  }

  /**
   * One collection: created with its indexes and expiry (a TTL index where the server has them).
   * Buckets (FerretDB, which creates a collection at its first insert and uses no index): swept
   * one bucket at a time, all of them every `sweepEveryMs`.
   */
  async init(capabilities: MongoCapabilities, sweepEveryMs: number, now: () => Date, legacyCheckMs = LEGACY_CHECK_MS): Promise<ExpiryHandle> {
    if (this.count === 1) {
      await ensureCollection(this.buckets[0]! as unknown as Model<never>);
      return ensureExpiry(this.buckets[0]! as unknown as Model<never>, 'expiresAt', capabilities, sweepEveryMs, now);
    }
    const sweepOne = async (model: Model<T>): Promise<number> => {
      const result = await model.deleteMany({ expiresAt: { $lte: now() } } as QueryFilter<T>).exec();
      return result.deletedCount ?? 0;
    };
    const all = [...this.buckets, this.legacy!];
    let next = 0;
    const timer = setInterval(
      () => {
        const model = all[next]!;
        next = (next + 1) % all.length;
        sweepOne(model).catch(() => undefined); // an unreachable server is reported by readiness, not here
      },
      Math.max(1, Math.floor(sweepEveryMs / all.length)),
    );
    timer.unref();
    await this.checkLegacy();
    const legacyTimer = setInterval(() => {
      this.checkLegacy().catch(() => undefined); // left as it was; readiness reports the server
    }, legacyCheckMs);
    legacyTimer.unref();
    return {
      mode: 'sweep',
      sweep: async () => {
        let deleted = 0;
        for (const model of all) deleted += await sweepOne(model);
        return deleted;
      },
      stop: () => {
        clearInterval(timer);
        clearInterval(legacyTimer);
      },
    };
  }

  private async checkLegacy(): Promise<void> {
    const any = await mongoCall(() => this.legacy!.collection.findOne({}, { projection: { _id: 1 } }));
    this.legacyInUse = any !== null;
  }

  /*
   * The token endpoint's reads and writes go to the driver's collection directly: the documents
   * are whole and typed here, and mongoose's query building, casting and hooks cost ~0.7 ms of CPU
   * a refresh (bench/README.md).
   */

  /** By `_id`: its bucket, then (a document from before the buckets) the one collection. */
  async findById(_id: string, projection?: Record<string, 1>): Promise<T | null> {
    const doc = await this.driverFind(this.of(_id), _id, projection);
    if (doc || !this.legacy || !this.legacyInUse) return doc;
    return this.driverFind(this.legacy, _id, projection);
  }

  /** By `_id` in the one collection from before the buckets only (null without buckets, or while it is empty). */
  findInLegacy(_id: string): Promise<T | null> {
    return this.legacy && this.legacyInUse ? this.driverFind(this.legacy, _id) : Promise.resolve(null);
  }

  private driverFind(model: Model<T>, _id: string, projection?: Record<string, 1>): Promise<T | null> {
    return mongoCall(() => model.collection.findOne({ _id } as never, projection ? { projection } : {}) as Promise<T | null>);
  }

  /** A query by another field: every bucket in turn (never on a hot path). */
  async findOne(filter: QueryFilter<T>): Promise<T | null> {
    for (const model of this.legacy && this.legacyInUse ? [...this.buckets, this.legacy] : this.buckets) {
      const doc = await mongoCall(() => model.findOne(filter).lean<T>().exec());
      if (doc) return doc;
    }
    return null;
  }

  insert(doc: T): Promise<unknown> {
    return mongoCall(() => this.of(doc._id).collection.insertOne(doc as never));
  }

  replace(_id: string, doc: Omit<T, '_id'> | T): Promise<unknown> {
    const { _id: _ignored, ...rest } = doc as T;
    return mongoCall(() => this.of(_id).collection.replaceOne({ _id } as never, rest as never, { upsert: true }));
  }

  update(_id: string, update: UpdateQuery<T>): Promise<unknown> {
    return mongoCall(() => this.of(_id).collection.updateOne({ _id } as never, update as never));
  }

  /** Every physical collection (tests, and the benchmark's seeding). */
  collections(): string[] {
    return this.buckets.map((model) => model.collection.collectionName);
  }
}

/** How often a bucketed collection checks whether the one collection from before holds documents. */
const LEGACY_CHECK_MS = 5_000;

const bucketName = (i: number): string => `b${i.toString(16).padStart(2, '0')}`;

/** FNV-1a of the `_id`: a stable, even spread of random token ids over the buckets. */
export function bucketOf(_id: string, count: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < _id.length; i++) {
    hash ^= _id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % count;
}
