import type { Filter } from 'mongodb';
import { Schema, type Connection } from 'mongoose';
import { systemClock } from '../../domain/clock.ts';
import { ConflictError } from '../../errors/index.ts';
import type { Clock, OAuthModelStore, OAuthRecord } from '../../ports.ts';
import { BucketedCollection, FERRETDB_PER_DATABASE, type BucketLayout, type Location } from './bucketed-collection.ts';
import type { ExpiryHandle } from './expiry.ts';
import { RetiredCollection } from './retired-collection.ts';
import type { MongoCapabilities } from './mongo-connection.ts';

/**
 * One document per oidc-provider record, of every model, keyed `<model>:<id>`. The fields the
 * adapter looks records up by are copied out of the payload so that they can be indexed.
 *
 * Every read and write of the sign-in, consent, code-exchange, refresh and revocation paths is by
 * primary key (docs/queries.md). On FerretDB 1.24 (SQLite) even that is a scan — it uses no
 * index — and an update or delete decodes every document it passes, so each logical collection
 * is spread over buckets there (bucketed-collection.ts) and writes avoid rewriting in place:
 * - a record is written by an INSERT (a new id, which tokens, codes and new grants always are),
 *   and rewritten in place only when oidc-provider saves an existing one again (an interaction
 *   or a session as it progresses);
 * - what happens to a record later is a document of its own, INSERTed beside the record — in its
 *   collection and bucket, `<key>#<what>` — so that one query by `_id $in` reads a record with
 *   all of it: its consumption marker (`#consumed`), its tombstone (`#ended`: destroyed) and, for
 *   a grant, the tombstone of every record of the grant (`Grant:<id>#revoked`). A record saved
 *   after its tombstone (its `savedAt` is later) lives again;
 * - findByUid reads a pointer (`oauth_lookups`, by `<model>:uid:<uid>`) to the record's key;
 * - the records oidc-provider saves again and again — interactions, browser sessions — live in a
 *   collection of their own (`oauth_sessions`), whose size follows sign-ins, not the tokens and
 *   grants of every connected app: rewriting one scans only its kind. (Sessions saved before
 *   they moved are still read from `oauth_models`.)
 * Expiry (a TTL index or a sweep) removes the garbage later; expiry is checked on every read.
 *
 * The payload is stored as its JSON text, not as a subdocument: oidc-provider's payloads have
 * keys with dots and leading dollars (resource indicators such as `https://api.example.com` in
 * Grant.resources, claim names, client ids in Session.authorizations), which FerretDB 1.x
 * refuses in documents ("key must not contain '.' sign") and MongoDB only half supports.
 */
interface OAuthModelDoc {
  _id: string;
  model: string;
  payload: string;
  grantId?: string;
  uid?: string;
  userCode?: string;
  expiresAt: Date | null;
  /** When it was written (ordering against tombstones, µs since the epoch); absent on older records. */
  savedAt?: number;
}

/**
 * That a record was consumed (`<key>#consumed`), written by an INSERT: the unique `_id` makes the
 * first consume win and every other fail, atomically on MongoDB and on FerretDB alike (FerretDB
 * 1.x applies updates as a read and a whole-document rewrite outside any transaction, so an
 * update-based consume could succeed twice). The record itself is never rewritten by consumption.
 *
 * A marker lives as long as its record would: it gets the record's expiry and is extended when
 * the record is upserted again (once consumed, always consumed). destroy and revokeByGrantId
 * leave it (see destroy), so only expiry removes it. A marker still present counts, even one
 * whose own time has passed: erring towards "consumed" never lets a code be redeemed twice.
 */
interface ConsumedDoc {
  _id: string;
  at: Date;
  expiresAt: Date | null;
}

/** A record (`<key>#ended`) or every record of a grant (`Grant:<id>#revoked`) ended at `at`: what was saved before is gone. */
interface EndedDoc {
  _id: string;
  at: number;
  expiresAt: Date | null;
}

type StoredDoc = OAuthModelDoc | ConsumedDoc | EndedDoc;

const oauthModelFields = {
    _id: { type: String, required: true },
    model: { type: String, required: true },
    payload: { type: String, required: true },
    grantId: { type: String },
    uid: { type: String },
    userCode: { type: String },
    expiresAt: { type: Date, default: null },
    savedAt: { type: Number },
};
const oauthModelSchema = new Schema<OAuthModelDoc>(oauthModelFields, { collection: 'oauth_models', versionKey: false, strict: 'throw' });
const oauthSessionSchema = new Schema<OAuthModelDoc>(oauthModelFields, { collection: 'oauth_sessions', versionKey: false, strict: 'throw' });

/** The models oidc-provider rewrites as they progress. */
const REWRITTEN = new Set(['Session', 'Interaction']);
// Session.findByUid and DeviceCode.findByUserCode: always within one model.
oauthModelSchema.index({ model: 1, uid: 1 }, { name: 'model_1_uid_1' });
oauthModelSchema.index({ model: 1, userCode: 1 }, { name: 'model_1_userCode_1' });
// The rescue of a swept uid pointer, on MongoDB an indexed query.
oauthSessionSchema.index({ model: 1, uid: 1 }, { name: 'model_1_uid_1' });

/** `<model>:uid:<uid>` → the key of the record that had that uid when it was first saved. */
interface LookupDoc {
  _id: string;
  key: string;
  expiresAt: Date | null;
}

const lookupSchema = new Schema<LookupDoc>(
  {
    _id: { type: String, required: true },
    key: { type: String, required: true },
    expiresAt: { type: Date, default: null },
  },
  { collection: 'oauth_lookups', versionKey: false, strict: 'throw' },
);

/**
 * Microseconds since the epoch, strictly increasing within this process: orders a save against
 * a tombstone written in the same millisecond. Across instances, clocks within a millisecond of
 * each other suffice: a destroy and a save of one record are one request's doing.
 */
let lastStamp = 0;
function stamp(): number {
  lastStamp = Math.max(Date.now() * 1000, lastStamp + 1);
  return lastStamp;
}

/**
 * On FerretDB: records, with their markers and tombstones, over 4,096 collections — they grow
 * with every connected app's tokens; uid pointers and sessions, which grow with sign-ins, over
 * 256. On MongoDB: one collection each, read by its `_id` index.
 */
const FERRETDB_BUCKETS = { records: 4096, sessions: 256, lookups: 256 } as const;

/**
 * The collections an earlier release kept markers and tombstones in, apart from their records
 * (read while they exist and drained into the records' buckets: retired-collection.ts), with
 * the layout it spread them over on FerretDB.
 */
const RETIRED = { consumed: { name: 'oauth_consumed', buckets: 4096 }, ended: { name: 'oauth_ended', buckets: 256 } } as const;

type Logical = keyof typeof FERRETDB_BUCKETS;

export interface MongoOAuthModelStoreOptions {
  /** How often expired documents are deleted where the server has no TTL indexes (FerretDB). */
  sweepEveryMs?: number;
  /** Collections each logical one is spread over (bucketed-collection.ts): FERRETDB_BUCKETS on FerretDB, 1 on MongoDB. */
  buckets?: number;
  /** Buckets per database (FERRETDB_PER_DATABASE unless set). */
  perDatabase?: number;
  /** How often the earlier layouts are checked for documents and places (bucketed-collection.ts, retired-collection.ts). */
  legacyCheckMs?: number;
  /** How often one place of the retired collections is drained (DRAIN_EVERY_MS unless set). */
  drainEveryMs?: number;
}

/** A record as read with everything kept beside it. */
interface Home {
  doc: OAuthModelDoc | null;
  consumed: ConsumedDoc | null;
  /** When the record was destroyed, if it was. */
  endedAt: number | null;
  /** For a grant: when every record of it was revoked, if they were. */
  revokedAt: number | null;
}

export class MongoOAuthModelStore implements OAuthModelStore {
  private readonly capabilities: MongoCapabilities;
  private readonly clock: Clock;
  private readonly sweepEveryMs: number;
  private readonly legacyCheckMs: number | undefined;
  private readonly drainEveryMs: number;
  private readonly records: BucketedCollection<StoredDoc>;
  private readonly sessions: BucketedCollection<StoredDoc>;
  private readonly lookups: BucketedCollection<LookupDoc>;
  private readonly retired: { consumed: RetiredCollection<ConsumedDoc>; ended: RetiredCollection<EndedDoc> };
  private expiry: ExpiryHandle[] = [];
  private drains: Array<{ stop(): void }> = [];
  /**
   * Records this instance has just found live, for the consume that follows in the same request
   * (oidc-provider reads a code or a refresh token, then consumes it): the existence check is not
   * read again within RECENT_MS. A record ended in that instant only gets a marker it no longer
   * needs; the insert still decides who consumes.
   */
  private readonly recent = new Map<string, { expiresAt: Date | null; until: number; consumed: boolean }>();
  /**
   * Grants read a moment ago to check a token of theirs, for oidc-provider's read of the same
   * grant that follows in the request (a refresh and a code exchange read the token, then its
   * grant): taken once, within GRANT_READ_MS, and forgotten on any write of the grant here.
   * Whether a token is revoked is never taken from here: every token read reads its grant's
   * tombstone.
   */
  private readonly grantsRead = new Map<string, { home: Home; until: number }>();

  constructor(connection: Connection, capabilities: MongoCapabilities, clock: Clock = systemClock, options: MongoOAuthModelStoreOptions = {}) {
    this.capabilities = capabilities;
    this.clock = clock;
    this.sweepEveryMs = options.sweepEveryMs ?? 60_000;
    this.legacyCheckMs = options.legacyCheckMs;
    this.drainEveryMs = options.drainEveryMs ?? DRAIN_EVERY_MS;
    const ferret = capabilities.server === 'ferretdb';
    const perDatabase = options.perDatabase ?? FERRETDB_PER_DATABASE;
    const layout = (logical: Logical): BucketLayout => ({ buckets: options.buckets ?? (ferret ? FERRETDB_BUCKETS[logical] : 1), perDatabase });
    const beside = { homeOf };
    this.records = new BucketedCollection(connection, 'OAuthModel', 'oauth_models', oauthModelSchema as unknown as Schema<StoredDoc>, layout('records'), beside);
    this.sessions = new BucketedCollection(connection, 'OAuthSession', 'oauth_sessions', oauthSessionSchema as unknown as Schema<StoredDoc>, layout('sessions'), beside);
    this.lookups = new BucketedCollection(connection, 'OAuthLookup', 'oauth_lookups', lookupSchema, layout('lookups'));
    const retiredLayout = (buckets: number): BucketLayout | null => (options.buckets ?? (ferret ? buckets : 1)) > 1 ? { buckets: options.buckets ?? buckets, perDatabase } : null;
    this.retired = {
      consumed: new RetiredCollection(connection, RETIRED.consumed.name, retiredLayout(RETIRED.consumed.buckets)),
      ended: new RetiredCollection(connection, RETIRED.ended.name, retiredLayout(RETIRED.ended.buckets)),
    };
  }

  /** Idempotent: creates the collections and indexes, starts expiry and the drains of what earlier releases kept apart (again). */
  async init(): Promise<void> {
    this.stop();
    const now = () => this.clock.now();
    for (const collection of this.all()) this.expiry.push(await collection.init(this.capabilities, this.sweepEveryMs, now, this.legacyCheckMs));
    const checkMs = this.legacyCheckMs ?? LEGACY_CHECK_MS;
    this.drains.push(await this.retired.consumed.open((docs) => this.moveConsumed(docs), checkMs, this.drainEveryMs));
    this.drains.push(await this.retired.ended.open((docs) => this.moveEnded(docs), checkMs, this.drainEveryMs));
    // revokeByGrantId writes one tombstone; an index by grant, which deleting every record of a
    // grant once used, would only cost every insert.
    await this.records.dropIndexIfPresent(UNUSED_GRANT_INDEX);
  }

  /** Stops the sweeps (FerretDB) and the drains; the connection is the caller's to close. */
  stop(): void {
    for (const handle of [...this.expiry, ...this.drains]) handle.stop();
    this.expiry = [];
    this.drains = [];
  }

  /** How expired documents are deleted: by the server (TTL index) or by this process's sweeps. */
  get expiryMode(): ExpiryHandle['mode'] | null {
    return this.expiry[0]?.mode ?? null;
  }

  /** The physical collections of each logical one (tests). */
  locations(): Record<Logical, Location[]> {
    return { records: this.records.locations(), sessions: this.sessions.locations(), lookups: this.lookups.locations() };
  }

  /** Where the record of this key (`<model>:<id>`) is kept, with its markers and tombstones (the benchmark's seeding writes there). */
  recordLocation(key: string): Location {
    return this.collectionOf(modelOf(key)).locate(key);
  }

  /** Where an earlier release kept this key's marker or tombstone in buckets of their own (tests seed there); null without buckets. */
  retiredLocation(kind: keyof typeof RETIRED, _id: string): Location | null {
    return this.retired[kind].bucketOf(_id);
  }

  /** Drains what earlier releases kept apart into the records' buckets now (what the timers do a place at a time). */
  async drainRetired(): Promise<void> {
    await this.retired.consumed.drainAll((docs) => this.moveConsumed(docs));
    await this.retired.ended.drainAll((docs) => this.moveEnded(docs));
  }

  /** Deletes expired records, markers, tombstones and pointers now (what the timers do in sweep mode). */
  async sweep(): Promise<{ records: number; sessions: number; lookups: number }> {
    const [records, sessions, lookups] = this.expiry;
    if (!records || !sessions || !lookups) throw new Error('MongoOAuthModelStore.sweep() before init()');
    return { records: await records.sweep(), sessions: await sessions.sweep(), lookups: await lookups.sweep() };
  }

  async upsert(model: string, id: string, payload: Record<string, unknown>, expiresAt: Date | null): Promise<void> {
    const _id = recordKey(model, id);
    this.grantsRead.delete(_id);
    const doc: OAuthModelDoc = { _id, model, payload: JSON.stringify(payload), expiresAt, savedAt: stamp() };
    const uid = stringField(payload, 'uid');
    const userCode = stringField(payload, 'userCode');
    const grantId = stringField(payload, 'grantId');
    if (uid !== undefined) doc.uid = uid;
    if (userCode !== undefined) doc.userCode = userCode;
    if (grantId !== undefined) doc.grantId = grantId;
    if (uid !== undefined) await this.point(uidKey(model, uid), _id, expiresAt);
    // A new record (every token and code, a new grant, a new session) is one insert.
    const home = this.collectionOf(model);
    if (await inserted(() => home.insert(doc))) return;
    await home.replace(_id, doc);
    // A consumed record stays consumed for as long as it now lives.
    const retiredMarker = await this.retired.consumed.findById(_id);
    if (retiredMarker) await this.moveConsumed([retiredMarker]);
    await home.update(`${_id}${CONSUMED}`, { $set: { expiresAt } });
  }

  async find(model: string, id: string): Promise<OAuthRecord | null> {
    const _id = recordKey(model, id);
    const home = this.takeGrantRead(_id) ?? (await this.readHome(_id, true));
    const doc = await this.liveOf(home);
    if (!doc) return null;
    if (this.recent.size >= RECENT_MAX) this.recent.clear();
    this.recent.set(_id, { expiresAt: dateOrNull(doc.expiresAt), until: Date.now() + RECENT_MS, consumed: home.consumed !== null });
    return toRecord(doc, home.consumed);
  }

  async peek(model: string, id: string): Promise<Omit<OAuthRecord, 'consumedAt'> | null> {
    const _id = recordKey(model, id);
    const doc = await this.liveOf(this.takeGrantRead(_id) ?? (await this.readHome(_id, false)));
    if (!doc) return null;
    const { consumedAt: _consumed, ...rest } = toRecord(doc, null);
    return rest;
  }

  /** The pointer first; where a pointer was swept before its record, the indexed query (MongoDB) or scan. */
  async findByUid(model: string, uid: string): Promise<OAuthRecord | null> {
    const pointer = await this.lookups.findById(uidKey(model, uid));
    const home = pointer ? await this.readHome(pointer.key, true) : await this.homeBy({ model, uid });
    const doc = home ? await this.liveOf(home) : null;
    if (!home || !doc || doc.model !== model || doc.uid !== uid) return null;
    return toRecord(doc, home.consumed);
  }

  async findByUserCode(model: string, userCode: string): Promise<OAuthRecord | null> {
    const home = await this.homeBy({ model, userCode });
    const doc = home ? await this.liveOf(home) : null;
    return home && doc ? toRecord(doc, home.consumed) : null;
  }

  /**
   * Existence first (false for an unknown, expired or ended record), then the insert that
   * decides. A record ended in between can leave a marker behind: harmless, it expires with the
   * record's time and the record is gone.
   */
  async consume(model: string, id: string, at: Date): Promise<boolean> {
    const _id = recordKey(model, id);
    this.grantsRead.delete(_id);
    const seen = this.recent.get(_id);
    this.recent.delete(_id);
    const fresh = seen !== undefined && seen.until > Date.now() && this.unexpired(seen) ? seen : null;
    let expiresAt = fresh?.expiresAt ?? null;
    if (fresh) {
      if (fresh.consumed) return false;
    } else {
      const home = await this.readHome(_id, true);
      const doc = await this.liveOf(home);
      if (!doc || home.consumed) return false;
      expiresAt = dateOrNull(doc.expiresAt);
    }
    return inserted(() => this.collectionOf(model).insert({ _id: `${_id}${CONSUMED}`, at, expiresAt }));
  }

  /*
   * Markers are never deleted when their records end, only by expiry: a redemption that read the
   * record before it was destroyed or revoked would otherwise find no marker and win. Once
   * consumed, always consumed (markers carry their record's expiry, so they do not pile up).
   */
  async destroy(model: string, id: string): Promise<void> {
    const _id = recordKey(model, id);
    this.recent.delete(_id);
    this.grantsRead.delete(_id);
    const doc = await this.stored(_id);
    await this.end(`${_id}${ENDED}`, doc ? dateOrNull(doc.expiresAt) : null);
  }

  /**
   * Every record of the grant ends with one tombstone beside the grant, read with each record's
   * grant. It lives as long as the grant would have (its refresh tokens cannot outlive it).
   */
  async revokeByGrantId(grantId: string): Promise<void> {
    this.recent.clear();
    const key = recordKey('Grant', grantId);
    this.grantsRead.delete(key);
    const grant = (await this.records.findById(key, { expiresAt: 1 })) as Pick<OAuthModelDoc, 'expiresAt'> | null;
    await this.end(`${key}${REVOKED}`, grant ? dateOrNull(grant.expiresAt) : null);
  }

  private all(): Array<BucketedCollection<{ _id: string; expiresAt?: Date | null }>> {
    return [this.records, this.sessions, this.lookups] as unknown as Array<BucketedCollection<{ _id: string; expiresAt?: Date | null }>>;
  }

  /**
   * A tombstone at this instant; one already there (a record saved and ended again) is moved on.
   * With `at` given (a tombstone moved from a retired collection), the later of the two stays.
   */
  private async end(_id: string, expiresAt: Date | null, at?: number): Promise<void> {
    const home = this.collectionOf(modelOf(_id));
    const tombstone: EndedDoc = { _id, at: at ?? stamp(), expiresAt };
    if (await inserted(() => home.insert(tombstone))) return;
    if (at !== undefined) {
      const existing = (await home.findById(_id)) as EndedDoc | null;
      if (existing && existing.at >= at) return;
    }
    await home.replace(_id, tombstone);
  }

  /** Markers kept apart by an earlier release, moved beside their records (the first marker of a record stays). */
  private async moveConsumed(docs: ConsumedDoc[]): Promise<void> {
    for (const doc of docs) {
      await inserted(() => this.collectionOf(modelOf(doc._id)).insert({ _id: `${doc._id}${CONSUMED}`, at: doc.at, expiresAt: dateOrNull(doc.expiresAt) }));
    }
  }

  /** Tombstones kept apart by an earlier release — of a record by its key, of a grant's records by `grant:<id>` — moved beside their records. */
  private async moveEnded(docs: EndedDoc[]): Promise<void> {
    for (const doc of docs) {
      const _id = doc._id.startsWith(RETIRED_GRANT_PREFIX) ? `${recordKey('Grant', doc._id.slice(RETIRED_GRANT_PREFIX.length))}${REVOKED}` : `${doc._id}${ENDED}`;
      await this.end(_id, dateOrNull(doc.expiresAt), doc.at);
    }
  }

  /** A lookup pointer, written once: the record it names is checked on every read. */
  private async point(_id: string, key: string, expiresAt: Date | null): Promise<void> {
    if (await inserted(() => this.lookups.insert({ _id, key, expiresAt }))) return;
    const existing = await this.lookups.findById(_id);
    if (existing && existing.key !== key) await this.lookups.replace(_id, { key, expiresAt });
  }

  /**
   * A record with everything kept beside it: one query by `_id $in` in its bucket — plus, where
   * they may still hold something, the retired collections (and for a session saved before
   * sessions moved, the records).
   */
  private async readHome(key: string, withConsumption: boolean): Promise<Home> {
    const model = modelOf(key);
    const ids = [key, `${key}${ENDED}`, `${key}${CONSUMED}`];
    if (model === 'Grant') ids.push(`${key}${REVOKED}`);
    const [docs, retired] = await Promise.all([this.collectionOf(model).findByIds(ids), this.readRetired(key, withConsumption)]);
    const home: Home = { doc: null, consumed: retired.consumed, endedAt: retired.endedAt, revokedAt: retired.revokedAt };
    for (const doc of docs) {
      const what = doc._id.slice(key.length);
      if (what === '') home.doc = doc as OAuthModelDoc;
      else if (what === CONSUMED) home.consumed = doc as ConsumedDoc;
      else if (what === ENDED) home.endedAt = later(home.endedAt, (doc as EndedDoc).at);
      else if (what === REVOKED) home.revokedAt = later(home.revokedAt, (doc as EndedDoc).at);
    }
    if (!home.doc && REWRITTEN.has(model)) home.doc = (await this.records.findById(key)) as OAuthModelDoc | null;
    return home;
  }

  /** A grant read with a token of it a moment ago, once (grantsRead); never for whether a token is revoked. */
  private takeGrantRead(key: string): Home | null {
    const read = this.grantsRead.get(key);
    if (!read) return null;
    this.grantsRead.delete(key);
    return read.until > Date.now() ? read.home : null;
  }

  /** What the retired collections say of this key: nothing, and no round trip, where none of their places exists. */
  private async readRetired(key: string, withConsumption: boolean): Promise<Omit<Home, 'doc'>> {
    const { consumed, ended } = this.retired;
    const grantKey = modelOf(key) === 'Grant' ? `${RETIRED_GRANT_PREFIX}${key.slice('Grant:'.length)}` : null;
    const [marker, endedDoc, revokedDoc] = await Promise.all([
      withConsumption && consumed.mayHold(key) ? consumed.findById(key) : null,
      ended.mayHold(key) ? ended.findById(key) : null,
      grantKey !== null && ended.mayHold(grantKey) ? ended.findById(grantKey) : null,
    ]);
    return { consumed: marker, endedAt: endedDoc?.at ?? null, revokedAt: revokedDoc?.at ?? null };
  }

  /**
   * The record if it is live: unexpired, saved after any tombstone of its own or of its grant —
   * which it names (tokens, codes), or is. The grant read to check is kept for the read of the
   * same grant that follows (grantsRead).
   */
  private async liveOf(home: Home): Promise<OAuthModelDoc | null> {
    const { doc } = home;
    if (!doc || !this.unexpired(doc)) return null;
    const savedAt = doc.savedAt ?? 0;
    if (endedSince(home.endedAt, savedAt) || endedSince(home.revokedAt, savedAt)) return null;
    const grantKey = doc.grantId === undefined ? null : recordKey('Grant', doc.grantId);
    if (grantKey === null || grantKey === doc._id) return doc;
    const grant = await this.readHome(grantKey, true);
    if (this.grantsRead.size >= RECENT_MAX) this.grantsRead.clear();
    this.grantsRead.set(grantKey, { home: grant, until: Date.now() + GRANT_READ_MS });
    return endedSince(grant.revokedAt, savedAt) ? null : doc;
  }

  /** The stored document by key, wherever its model lives (a session from before the move, in the records). */
  private async stored(_id: string): Promise<OAuthModelDoc | null> {
    const model = modelOf(_id);
    const doc = (await this.collectionOf(model).findById(_id)) as OAuthModelDoc | null;
    if (doc || !REWRITTEN.has(model)) return doc;
    return (await this.records.findById(_id)) as OAuthModelDoc | null;
  }

  private collectionOf(model: string): BucketedCollection<StoredDoc> {
    return REWRITTEN.has(model) ? this.sessions : this.records;
  }

  /** A lookup by a secondary field (never on a hot path: userCode, a swept uid pointer), then what is kept beside it. */
  private async homeBy(filter: Filter<OAuthModelDoc>): Promise<Home | null> {
    const query = { ...filter, ...this.unexpiredFilter() } as Filter<StoredDoc>;
    const doc = (REWRITTEN.has(String(filter.model)) ? await this.sessions.findOne(query) : null) ?? (await this.records.findOne(query));
    return doc ? this.readHome(doc._id, true) : null;
  }

  /** Expiry is a rule of reading: TTL indexes and sweeps only collect the garbage, later. */
  private unexpired(doc: { expiresAt?: Date | null }): boolean {
    return doc.expiresAt === null || doc.expiresAt === undefined || new Date(doc.expiresAt).getTime() > this.clock.now().getTime();
  }

  private unexpiredFilter(): Filter<OAuthModelDoc> {
    return { $or: [{ expiresAt: null }, { expiresAt: { $gt: this.clock.now() } }] };
  }
}

const RECENT_MS = 1_000;
/** A grant read with its token serves the read of it that follows in the same request, and no later one. */
const GRANT_READ_MS = 100;
const UNUSED_GRANT_INDEX = 'grantId_1';
const RECENT_MAX = 10_000;
/** How often the earlier layouts are checked (as bucketed-collection.ts does). */
const LEGACY_CHECK_MS = 5_000;
/** One place of a retired collection drained every second at most: a background task, never in a request's way. */
const DRAIN_EVERY_MS = 1_000;

/** What is kept beside a record, by the suffix of its `_id`. */
const CONSUMED = '#consumed';
const ENDED = '#ended';
const REVOKED = '#revoked';
/** An earlier release's tombstone of every record of a grant: `grant:<id>`. */
const RETIRED_GRANT_PREFIX = 'grant:';

/** A record, or the record a marker or tombstone belongs beside: everything before `#`. */
function homeOf(_id: string): string {
  const mark = _id.indexOf('#');
  return mark < 0 ? _id : _id.slice(0, mark);
}

const modelOf = (key: string): string => key.slice(0, key.indexOf(':'));
const later = (a: number | null, b: number): number => (a === null || b > a ? b : a);
/** Whether a tombstone at `endedAt` ends what was saved at `savedAt` (saved after it, a record lives again). */
const endedSince = (endedAt: number | null, savedAt: number): boolean => endedAt !== null && endedAt >= savedAt;

/** Whether an insert went in; false when its _id is there already. */
async function inserted(insert: () => Promise<unknown>): Promise<boolean> {
  try {
    await insert();
    return true;
  } catch (error) {
    if (error instanceof ConflictError) return false;
    throw error;
  }
}

const recordKey = (model: string, id: string): string => `${model}:${id}`;
const uidKey = (model: string, uid: string): string => `${model}:uid:${uid}`;

function stringField(payload: Record<string, unknown>, name: string): string | undefined {
  const value = payload[name];
  return typeof value === 'string' ? value : undefined;
}

const dateOrNull = (value: Date | null | undefined): Date | null => (value == null ? null : new Date(value));

function toRecord(doc: OAuthModelDoc, marker: ConsumedDoc | null): OAuthRecord {
  return {
    payload: JSON.parse(doc.payload) as Record<string, unknown>,
    expiresAt: dateOrNull(doc.expiresAt),
    consumedAt: marker ? new Date(marker.at) : null,
  };
}
