import type { Collection, Db, Filter, MongoClient } from 'mongodb';
import type { Connection, Model, Schema } from 'mongoose';
import type { ExpiryHandle } from './expiry.ts';
import { ensureExpiry } from './expiry.ts';
import { ensureCollection } from './ensure-collection.ts';
import type { MongoCapabilities } from './mongo-connection.ts';
import { mongoCall, type DuplicateHandler } from './mongo-errors.ts';

/** How a logical collection is spread: `buckets` collections, at most `perDatabase` in one database. */
export interface BucketLayout {
  buckets: number;
  perDatabase: number;
}

/** Where one physical collection is. */
export interface Location {
  database: string;
  collection: string;
}

/** Collections per database on FerretDB: its cost per query grows with the collections a database has. */
export const FERRETDB_PER_DATABASE = 256;

/**
 * The layout of the previous release on FerretDB, still read: 256 buckets, `<collection>_bXX`,
 * in the deployment's own database.
 */
const PREVIOUS_BUCKETS = 256;

/**
 * One logical collection of documents keyed by a string `_id`, kept in one MongoDB collection —
 * or, on FerretDB, spread over many collections by a hash of the `_id`, in databases of their own.
 *
 * Why: FerretDB 1.24 on SQLite uses no index at all, the `_id` one included (its pushed-down
 * filter is not the expression its indexes are built on: `EXPLAIN` says SCAN). Every read, update
 * and delete by `_id` is a scan of the collection, ~2–5 µs a document: milliseconds at 100,000.
 * Spread over 4,096 collections, a lookup scans a 4,096th of them. And a query on FerretDB costs
 * more the more collections its database holds (0.5 ms at 256, 1.8 ms at 4,096, measured in
 * docs/queries.md), while each database is a SQLite file of its own: so the buckets go
 * FERRETDB_PER_DATABASE to a database, `<db>_<collection>_<n>`. MongoDB answers by its `_id`
 * index and keeps one collection in the deployment's database.
 *
 * Earlier layouts on FerretDB are read where a document is not found in its bucket, but only
 * while they can hold any — most reads on the token endpoint are misses (a tombstone or a
 * consumption marker that is not there), and each would cost more round trips:
 * - the one collection (`<collection>`), read while it holds documents;
 * - the previous release's 256 buckets in the deployment's database (`<collection>_bXX`), read
 *   while any of them exists (once empty, an operator may drop them).
 * Both are checked at init and every `legacyCheckMs` after (an earlier instance still running
 * during an upgrade may write there), and swept with the rest.
 */
export class BucketedCollection<T extends { _id: string; expiresAt?: Date | null }> {
  readonly layout: BucketLayout;
  private readonly name: string;
  private readonly main: Db;
  private readonly client: MongoClient;
  private readonly single: Model<T>;
  private readonly physical: Array<Collection<T> | undefined>;
  /** Whether the one collection held documents when last checked (read until known). */
  private legacyInUse = true;
  /** The previous release's buckets that exist, by name (read until known). */
  private previous: Set<string> | null = null;
  private readonly databases = new Map<string, Db>();

  constructor(connection: Connection, modelName: string, collection: string, schema: Schema<T>, layout: BucketLayout) {
    this.layout = layout;
    this.name = collection;
    this.main = connection.db!;
    this.client = connection.getClient();
    this.single = (connection.models[modelName] as Model<T> | undefined) ?? connection.model<T>(modelName, schema, collection);
    this.physical = new Array<Collection<T> | undefined>(layout.buckets);
    const longest = this.spread ? this.bucketLocation(layout.buckets - 1).database : '';
    if (longest.length > MAX_DATABASE_NAME) {
      throw new Error(`The database name "${this.main.databaseName}" is too long for FerretDB's buckets: "${longest}" has more than ${MAX_DATABASE_NAME} characters`);
    }
  }

  private get spread(): boolean {
    return this.layout.buckets > 1;
  }

  /** Where the bucket of this `_id` is. */
  locate(_id: string): Location {
    if (!this.spread) return { database: this.main.databaseName, collection: this.name };
    return this.bucketLocation(bucketOf(_id, this.layout.buckets));
  }

  private bucketLocation(bucket: number): Location {
    const database = `${this.main.databaseName}_${this.name}_${Math.floor(bucket / this.layout.perDatabase).toString(16)}`;
    return { database, collection: `b${bucket.toString(16).padStart(3, '0')}` };
  }

  /** The collection a document of this `_id` lives in. */
  private of(_id: string): Collection<T> {
    return this.spread ? this.bucket(bucketOf(_id, this.layout.buckets)) : (this.single.collection as unknown as Collection<T>);
  }

  /**
   * Documents that do not expire: the one collection created with its indexes (MongoDB), or the
   * earlier layouts watched (FerretDB, which creates a collection at its first insert).
   */
  async open(legacyCheckMs = LEGACY_CHECK_MS): Promise<{ stop(): void }> {
    if (!this.spread) {
      await ensureCollection(this.single as unknown as Model<never>);
      return { stop: () => undefined };
    }
    await this.checkEarlier();
    const timer = setInterval(() => {
      this.checkEarlier().catch(() => undefined); // left as it was; readiness reports the server
    }, legacyCheckMs);
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }

  /**
   * As open, with expiry: a TTL index where the server has them, else sweeps. Buckets are swept
   * one at a time, every bucket every `sweepEveryMs` or, with many buckets, at most four a second
   * (expiry is a rule of reading; the sweep only collects the garbage).
   */
  async init(capabilities: MongoCapabilities, sweepEveryMs: number, now: () => Date, legacyCheckMs = LEGACY_CHECK_MS): Promise<ExpiryHandle> {
    if (!this.spread) {
      await ensureCollection(this.single as unknown as Model<never>);
      return ensureExpiry(this.single as unknown as Model<never>, 'expiresAt', capabilities, sweepEveryMs, now);
    }
    const watch = await this.open(legacyCheckMs);
    const sweepOne = async (collection: Collection<T>): Promise<number> => {
      const result = await mongoCall(() => collection.deleteMany({ expiresAt: { $lte: now() } } as Filter<T>));
      return result.deletedCount;
    };
    // The buckets, then the collections of earlier layouts that are in use.
    const sweepable = (index: number): Collection<T> | null =>
      index < this.layout.buckets ? this.bucket(index) : (this.earlierCollections()[index - this.layout.buckets] ?? null);
    let next = 0;
    const timer = setInterval(
      () => {
        const collection = sweepable(next);
        next = next + 1 >= this.layout.buckets + this.earlierCollections().length ? 0 : next + 1;
        if (collection) sweepOne(collection).catch(() => undefined); // an unreachable server is reported by readiness, not here
      },
      Math.max(MIN_SWEEP_TICK_MS, Math.floor(sweepEveryMs / this.layout.buckets)),
    );
    timer.unref();
    return {
      mode: 'sweep',
      sweep: async () => {
        let deleted = 0;
        for (let bucket = 0; bucket < this.layout.buckets; bucket++) deleted += await sweepOne(this.bucket(bucket));
        for (const collection of this.earlierCollections()) deleted += await sweepOne(collection);
        return deleted;
      },
      stop: () => {
        clearInterval(timer);
        watch.stop();
      },
    };
  }

  /** Drops an index of the one collection that nothing uses any more; absent already (or no collection), nothing happens. */
  async dropIndexIfPresent(name: string): Promise<void> {
    try {
      await mongoCall(() => this.single.collection.dropIndex(name));
    } catch (error) {
      // IndexNotFound (27), NamespaceNotFound (26): already as wanted.
      if (![26, 27].includes((error as { code?: number }).code ?? -1)) throw error;
    }
  }

  private bucket(index: number): Collection<T> {
    let found = this.physical[index];
    if (!found) {
      const { database, collection } = this.bucketLocation(index);
      // From the database's one Db: making a Db copies every client option (MongoClient.db).
      found = this.physical[index] = this.database(database).collection<T>(collection);
    }
    return found;
  }

  /** The collections of earlier layouts in use now: the one collection, the previous buckets. */
  private earlierCollections(): Array<Collection<T>> {
    const earlier: Array<Collection<T>> = [];
    if (this.legacyInUse) earlier.push(this.single.collection as unknown as Collection<T>);
    for (const name of this.previous ?? []) earlier.push(this.main.collection<T>(name));
    return earlier;
  }

  private async checkEarlier(): Promise<void> {
    const any = await mongoCall(() => this.single.collection.findOne({}, { projection: { _id: 1 } }));
    this.legacyInUse = any !== null;
    const pattern = new RegExp(`^${this.name}_b[0-9a-f]{2}$`);
    const names = await mongoCall(() => this.main.listCollections({}, { nameOnly: true }).toArray());
    this.previous = new Set(names.map((c) => c.name).filter((name) => pattern.test(name)));
  }

  /** Where an earlier layout may hold this `_id`, in the order to look. */
  private earlierOf(_id: string): Location[] {
    if (!this.spread) return [];
    const main = this.main.databaseName;
    const earlier: Location[] = [];
    // Most misses meet no earlier layout at all: the previous bucket's name is made only where one exists.
    if (this.previous === null || this.previous.size > 0) {
      const previousName = `${this.name}_b${bucketOf(_id, PREVIOUS_BUCKETS).toString(16).padStart(2, '0')}`;
      if (this.previous === null || this.previous.has(previousName)) earlier.push({ database: main, collection: previousName });
    }
    if (this.legacyInUse) earlier.push({ database: main, collection: this.name });
    return earlier;
  }

  /*
   * The token endpoint's reads and writes go to the driver's collection directly: the documents
   * are whole and typed here, and mongoose's query building, casting and hooks cost ~0.7 ms of CPU
   * a refresh (bench/README.md).
   */

  /** By `_id`: its bucket, then (a document from before) the earlier layouts in use. */
  async findById(_id: string, projection?: Record<string, 1>): Promise<T | null> {
    return (await this.readAt(this.locate(_id), [_id], projection))[0] ?? this.findInEarlier(_id, projection);
  }

  /** By `_id` in the earlier layouts in use only (none without buckets). */
  async findInEarlier(_id: string, projection?: Record<string, 1>): Promise<T | null> {
    for (const location of this.earlierOf(_id)) {
      const [doc] = await this.readAt(location, [_id], projection);
      if (doc) return doc;
    }
    return null;
  }

  /** A query by another field: every bucket in turn, then the earlier layouts (never on a hot path). */
  async findOne(filter: Filter<T>): Promise<T | null> {
    if (!this.spread) return mongoCall(() => this.single.collection.findOne(filter as never) as Promise<T | null>);
    for (let bucket = 0; bucket < this.layout.buckets; bucket++) {
      const doc = await mongoCall(() => this.bucket(bucket).findOne(filter) as Promise<T | null>);
      if (doc) return doc;
    }
    for (const collection of this.earlierCollections()) {
      const doc = await mongoCall(() => collection.findOne(filter) as Promise<T | null>);
      if (doc) return doc;
    }
    return null;
  }

  insert(doc: T): Promise<unknown> {
    return mongoCall(() => this.of(doc._id).insertOne(doc as never));
  }

  replace(_id: string, doc: Omit<T, '_id'> | T): Promise<unknown> {
    const { _id: _ignored, ...rest } = doc as T;
    return mongoCall(() => this.of(_id).replaceOne({ _id } as Filter<T>, rest as never, { upsert: true }));
  }

  update(_id: string, update: Record<string, unknown>, options: { upsert?: boolean } = {}, onDuplicate?: DuplicateHandler): Promise<unknown> {
    return mongoCall(() => this.of(_id).updateOne({ _id } as Filter<T>, update as never, options), onDuplicate);
  }

  /**
   * By `_id`, many at once: one query per bucket they fall in (MongoDB: one, by `$in`), then the
   * earlier layouts for those not found. Of one `_id` in two places, its bucket's document wins.
   */
  async findByIds(ids: string[]): Promise<T[]> {
    const byPlace = new Map<string, { location: Location; ids: string[] }>();
    for (const _id of ids) {
      const location = this.locate(_id);
      const place = `${location.database}/${location.collection}`;
      const group = byPlace.get(place);
      if (group) group.ids.push(_id);
      else byPlace.set(place, { location, ids: [_id] });
    }
    const found = new Map<string, T>();
    for (const { location, ids: some } of byPlace.values()) for (const doc of await this.readAt(location, some)) found.set(doc._id, doc);
    for (const _id of ids) {
      if (found.has(_id)) continue;
      const doc = await this.findInEarlier(_id);
      if (doc) found.set(_id, doc);
    }
    return [...found.values()];
  }

  /**
   * Documents of these ids in one collection: the find command itself rather than a cursor — no
   * more documents than ids (each `_id` is unique), so one batch always holds them, and a
   * cursor's machinery cost 20–40 µs of CPU a read (bench/README.md). One id is an equality:
   * MongoDB answers it from its `_id` index, FerretDB without decoding every document (an `$in`
   * it decodes them all).
   */
  private async readAt(location: Location, ids: string[], projection?: Record<string, 1>): Promise<T[]> {
    const filter = ids.length === 1 ? { _id: ids[0] } : { _id: { $in: ids } };
    const command = { find: location.collection, filter, limit: ids.length, singleBatch: true, ...(projection ? { projection } : {}) };
    const reply = await mongoCall(() => this.database(location.database).command(command));
    return (reply as FindReply<T>).cursor.firstBatch;
  }

  private database(name: string): Db {
    let db = this.databases.get(name);
    if (!db) this.databases.set(name, (db = name === this.main.databaseName ? this.main : this.client.db(name)));
    return db;
  }

  /** Every physical collection of this layout (tests, and the benchmark's seeding). */
  locations(): Location[] {
    if (!this.spread) return [this.locate('')];
    return Array.from({ length: this.layout.buckets }, (_, bucket) => this.bucketLocation(bucket));
  }
}

interface FindReply<T> {
  cursor: { firstBatch: T[] };
}

/** MongoDB's limit, which FerretDB keeps. */
const MAX_DATABASE_NAME = 63;
/** How often a bucketed collection checks whether the earlier layouts hold documents. */
const LEGACY_CHECK_MS = 5_000;
/** The sweep visits at most four buckets a second, however many there are. */
const MIN_SWEEP_TICK_MS = 250;

/** FNV-1a of the `_id`: a stable, even spread of random token ids over the buckets. */
export function bucketOf(_id: string, count: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < _id.length; i++) {
    hash ^= _id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % count;
}
