import type { Db, Document, MongoClient } from 'mongodb';
import type { Connection } from 'mongoose';
import { bucketLocation, bucketOf, type BucketLayout, type Location } from './bucketed-collection.ts';
import { mongoCall } from './mongo-errors.ts';

/** What a drain does with the documents it takes out: write them where this release keeps them. */
export type Move<T> = (docs: T[]) => Promise<void>;

/**
 * A logical collection this release no longer writes, kept by earlier ones, in any of their
 * layouts: the one collection (`<collection>`), 256 buckets in the deployment's database
 * (`<collection>_bXX`, FerretDB), and `layout`'s buckets in databases of their own (FerretDB).
 *
 * What it holds still counts, so a document is read where its places exist — and only there:
 * most deployments never had it, or have drained it, and a read of a place that is not there
 * would be a round trip for nothing. Which places exist is listed at open and every `checkMs`
 * after, for an instance of an earlier release still running during an upgrade may create one.
 *
 * A drain moves every document to where this release keeps it (`move`, idempotent), one place at
 * a time in the background, and then removes the place without losing what is written to it
 * meanwhile: the place is renamed to `<name>_drained` (atomic: a write lands before, in what is
 * then moved again, or after, in a new place the next listing sees), its documents moved once
 * more, and it is dropped. A `_drained` place is read like the others while it exists, so a drain
 * interrupted at any step loses nothing and the next one finishes it.
 */
export class RetiredCollection<T extends { _id: string }> {
  private readonly client: MongoClient;
  private readonly main: Db;
  private readonly name: string;
  private readonly layout: BucketLayout | null;
  /** `<database>/<collection>` of every place that exists (null until listed: then every place is read). */
  private existing: Set<string> | null = null;
  private draining = false;

  constructor(connection: Connection, name: string, layout: BucketLayout | null) {
    this.client = connection.getClient();
    this.main = connection.db!;
    this.name = name;
    this.layout = layout && layout.buckets > 1 ? layout : null;
  }

  /** Lists the places now, then every `checkMs`, and drains one place every `drainEveryMs`. */
  async open(move: Move<T>, checkMs: number, drainEveryMs: number): Promise<{ stop(): void }> {
    await this.check();
    const checking = setInterval(() => {
      this.check().catch(() => undefined); // left as it was; readiness reports the server
    }, checkMs);
    const drainer = setInterval(() => {
      this.drainNext(move).catch(() => undefined); // tried again on the next tick
    }, drainEveryMs);
    checking.unref();
    drainer.unref();
    return {
      stop: () => {
        clearInterval(checking);
        clearInterval(drainer);
      },
    };
  }

  /** Whether a document of this `_id` may be held: one of its places exists. */
  mayHold(_id: string): boolean {
    if (this.existing !== null && this.existing.size === 0) return false; // most deployments, every read
    return this.placesOf(_id).some((place) => this.exists(place));
  }

  /** By `_id`, in each of its places that exists, newest layout first. */
  async findById(_id: string): Promise<T | null> {
    for (const place of this.placesOf(_id)) {
      if (!this.exists(place)) continue;
      const doc = await mongoCall(() => this.collection(place).findOne({ _id } as never));
      if (doc) return doc as unknown as T;
    }
    return null;
  }

  /** The place of this `_id` in the layout of databases of their own (tests seed there). */
  bucketOf(_id: string): Location | null {
    return this.layout ? bucketLocation(this.main.databaseName, this.name, this.layout, bucketOf(_id, this.layout.buckets)) : null;
  }

  /** Drains every place there is now (tests; the timer drains one at a time). */
  async drainAll(move: Move<T>): Promise<void> {
    await this.check();
    while (await this.drainNext(move));
  }

  /** Whether a place was there to drain. */
  private async drainNext(move: Move<T>): Promise<boolean> {
    if (this.draining || this.existing === null) return false;
    const next = [...this.existing][0];
    if (next === undefined) return false;
    this.draining = true;
    try {
      const [database, collection] = next.split('/') as [string, string];
      const drained = collection.endsWith(DRAINED) ? collection : `${collection}${DRAINED}`;
      const db = this.client.db(database);
      // A drain interrupted after its rename left the renamed place: finish that first.
      await this.moveAll(db.collection(drained), move);
      await dropIfPresent(db, drained);
      if (drained !== collection) {
        await this.moveAll(db.collection(collection), move);
        if (await renamed(db, collection, drained)) {
          await this.moveAll(db.collection(drained), move);
          await dropIfPresent(db, drained);
        }
      }
      this.existing.delete(`${database}/${collection}`);
      this.existing.delete(`${database}/${drained}`);
      return true;
    } finally {
      this.draining = false;
    }
  }

  private async moveAll(collection: ReturnType<Db['collection']>, move: Move<T>): Promise<void> {
    const cursor = collection.find({}, { batchSize: MOVE_BATCH });
    let batch: T[] = [];
    for await (const doc of cursor) {
      batch.push(doc as unknown as T);
      if (batch.length >= MOVE_BATCH) {
        await move(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await move(batch);
  }

  private async check(): Promise<void> {
    const databases = new Set([this.main.databaseName]);
    if (this.layout) for (let bucket = 0; bucket < this.layout.buckets; bucket += this.layout.perDatabase) databases.add(bucketLocation(this.main.databaseName, this.name, this.layout, bucket).database);
    const found = new Set<string>();
    for (const database of databases) {
      const names = await mongoCall(() => this.client.db(database).listCollections({}, { nameOnly: true }).toArray());
      for (const { name } of names) if (this.isPlace(database, name)) found.add(`${database}/${name}`);
    }
    this.existing = found;
  }

  private isPlace(database: string, name: string): boolean {
    const base = name.endsWith(DRAINED) ? name.slice(0, -DRAINED.length) : name;
    if (database === this.main.databaseName) return base === this.name || new RegExp(`^${this.name}_b[0-9a-f]{2}$`).test(base);
    return /^b[0-9a-f]{3}$/.test(base);
  }

  /** The places a document of this `_id` may be in, newest layout first, each with its `_drained` twin. */
  private placesOf(_id: string): Location[] {
    const main = this.main.databaseName;
    const places: Location[] = [];
    const bucket = this.bucketOf(_id);
    if (bucket) places.push(bucket);
    places.push({ database: main, collection: `${this.name}_b${bucketOf(_id, PREVIOUS_BUCKETS).toString(16).padStart(2, '0')}` }, { database: main, collection: this.name });
    return places.flatMap((place) => [place, { database: place.database, collection: `${place.collection}${DRAINED}` }]);
  }

  private exists(place: Location): boolean {
    return this.existing === null || this.existing.has(`${place.database}/${place.collection}`);
  }

  private collection(place: Location) {
    return this.client.db(place.database).collection<Document>(place.collection);
  }
}

const DRAINED = '_drained';
/** The deployment-database buckets of the release before the databases of their own. */
const PREVIOUS_BUCKETS = 256;
const MOVE_BATCH = 500;

/** Renamed; false where the place is gone already (another instance drained it). */
async function renamed(db: Db, from: string, to: string): Promise<boolean> {
  try {
    await mongoCall(() => db.renameCollection(from, to));
    return true;
  } catch (error) {
    if ((error as { code?: number }).code === NAMESPACE_NOT_FOUND) return false;
    throw error;
  }
}

async function dropIfPresent(db: Db, name: string): Promise<void> {
  try {
    await mongoCall(() => db.dropCollection(name));
  } catch (error) {
    if ((error as { code?: number }).code !== NAMESPACE_NOT_FOUND) throw error;
  }
}

const NAMESPACE_NOT_FOUND = 26;

