import type { Filter } from 'mongodb';
import { Schema, type Connection } from 'mongoose';
import { systemClock } from '../../domain/clock.ts';
import { ConflictError } from '../../errors/index.ts';
import type { Clock, OAuthModelStore, OAuthRecord } from '../../ports.ts';
import { BucketedCollection, FERRETDB_PER_DATABASE, type BucketLayout, type Location } from './bucketed-collection.ts';
import type { ExpiryHandle } from './expiry.ts';
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
 * - destroy and revokeByGrantId INSERT a tombstone (`oauth_ended`, by the record's key or by
 *   `grant:<id>`) that reads check, instead of deleting: a record saved after its tombstone (its
 *   `savedAt` is later) lives again. A Grant destroyed ends by `grant:<id>`, with every record of
 *   it (oidc-provider destroys a grant only as it revokes it: helpers/revoke.js). Tokens and
 *   codes, which are never saved twice, are ended in place instead (ENDED_HERE);
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
  /** A code's or refresh token's grant as it was when the record was written (GrantCopy); absent on older records. */
  grant?: GrantCopy;
  /** Ended by `endedAt` written into it (ENDED_HERE); absent: by a tombstone (`oauth_ended`), as records of earlier releases are. */
  endsHere?: true;
  /** When it was ended (µs since the epoch), for a record that ends here. */
  endedAt?: number;
}

/**
 * The Grant record a code or refresh token names, copied into it when it is written: redeeming it
 * reads the grant's tombstone, as it always does, and takes the grant from the copy unless that
 * tombstone exists — instead of two more reads. A copy can only be stale where the grant changed
 * after it was taken, and every change of a grant writes that tombstone first: revokeByGrantId
 * and destroy end the grant there (`at`), and saving an existing grant again marks it there
 * (SAVED_AGAIN, which ends nothing). Grants are written once in practice (oauth/interactions.ts makes a
 * new one at every consent), so the tombstone exists only for ended grants.
 */
interface GrantCopy {
  payload: string;
  expiresAt: Date | null;
  savedAt: number;
}

const oauthModelFields = {
    _id: { type: String, required: true },
    model: { type: String, required: true },
    payload: { type: String, required: true },
    grantId: { type: String },
    uid: { type: String },
    userCode: { type: String },
    expiresAt: { type: Date, default: null },
    savedAt: { type: Number },
    endsHere: { type: Boolean },
    endedAt: { type: Number },
    grant: { type: new Schema<GrantCopy>({ payload: { type: String, required: true }, expiresAt: { type: Date, default: null }, savedAt: { type: Number, required: true } }, { _id: false }) },
};
const oauthModelSchema = new Schema<OAuthModelDoc>(oauthModelFields, { collection: 'oauth_models', versionKey: false, strict: 'throw' });
const oauthSessionSchema = new Schema<OAuthModelDoc>(oauthModelFields, { collection: 'oauth_sessions', versionKey: false, strict: 'throw' });

/** The models oidc-provider rewrites as they progress. */
const REWRITTEN = new Set(['Session', 'Interaction']);
/** The models whose redemption reads their grant: they carry a copy of it (GrantCopy). */
const CARRY_GRANT = new Set(['AuthorizationCode', 'RefreshToken']);
/**
 * The models whose records are ended in place — `endedAt` set in the record — rather than by a
 * tombstone: each read of one is then one document, not two. Their records are never rewritten
 * (an id is saved once), so the update cannot race another write of the record on FerretDB, and
 * ending one is rare (a revocation, a reuse), so that its scan of the bucket there costs little.
 * Records of earlier releases still end by tombstones (they lack `endsHere`).
 */
const ENDED_HERE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken']);
// Session.findByUid and DeviceCode.findByUserCode: always within one model.
oauthModelSchema.index({ model: 1, uid: 1 }, { name: 'model_1_uid_1' });
oauthModelSchema.index({ model: 1, userCode: 1 }, { name: 'model_1_userCode_1' });
// The rescue of a swept uid pointer, on MongoDB an indexed query.
oauthSessionSchema.index({ model: 1, uid: 1 }, { name: 'model_1_uid_1' });

/**
 * That a record was consumed lives in its own collection, one marker per record, written by an
 * INSERT: the unique _id makes the first consume win and every other fail, atomically on MongoDB
 * and on FerretDB alike (FerretDB 1.x applies updates as a read and a whole-document rewrite
 * outside any transaction, so an update-based consume could succeed twice). The record itself is
 * never rewritten by consumption.
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

const consumedSchema = new Schema<ConsumedDoc>(
  {
    _id: { type: String, required: true },
    at: { type: Date, required: true },
    expiresAt: { type: Date, default: null },
  },
  { collection: 'oauth_consumed', versionKey: false, strict: 'throw' },
);

/** A record (by its key) or a grant (`grant:<id>`) ended at `at`: what was saved before is gone. */
interface EndedDoc {
  _id: string;
  at: number;
  expiresAt: Date | null;
}

const endedSchema = new Schema<EndedDoc>(
  {
    _id: { type: String, required: true },
    at: { type: Number, required: true },
    expiresAt: { type: Date, default: null },
  },
  { collection: 'oauth_ended', versionKey: false, strict: 'throw' },
);

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
 * On FerretDB: records and consumption markers, which grow with every connected app's tokens,
 * over 4,096 collections; tombstones, uid pointers and sessions, which grow with sign-ins and
 * revocations, over 256. On MongoDB: one collection each, read by its `_id` index.
 */
const FERRETDB_BUCKETS = { records: 4096, consumed: 4096, sessions: 256, ended: 256, lookups: 256 } as const;

type Logical = keyof typeof FERRETDB_BUCKETS;

export interface MongoOAuthModelStoreOptions {
  /** How often expired documents are deleted where the server has no TTL indexes (FerretDB). */
  sweepEveryMs?: number;
  /** Collections each logical one is spread over (bucketed-collection.ts): FERRETDB_BUCKETS on FerretDB, 1 on MongoDB. */
  buckets?: number;
  /** Buckets per database (FERRETDB_PER_DATABASE unless set). */
  perDatabase?: number;
  /** How often the buckets check whether the one collection from before holds documents (bucketed-collection.ts). */
  legacyCheckMs?: number;
}

export class MongoOAuthModelStore implements OAuthModelStore {
  private readonly capabilities: MongoCapabilities;
  private readonly clock: Clock;
  private readonly sweepEveryMs: number;
  private readonly legacyCheckMs: number | undefined;
  private readonly records: BucketedCollection<OAuthModelDoc>;
  private readonly sessions: BucketedCollection<OAuthModelDoc>;
  private readonly consumed: BucketedCollection<ConsumedDoc>;
  private readonly ended: BucketedCollection<EndedDoc>;
  private readonly lookups: BucketedCollection<LookupDoc>;
  private expiry: ExpiryHandle[] = [];
  /**
   * Records this instance has just found live, for the consume that follows in the same request
   * (oidc-provider reads a code or a refresh token, then consumes it): the existence check is not
   * read again within RECENT_MS. A record ended in that instant only gets a marker it no longer
   * needs; the insert still decides who consumes.
   */
  private readonly recent = new Map<string, { expiresAt: Date | null; until: number; consumed: boolean | undefined }>();
  /**
   * Grants read with a record of theirs that find() reads, for oidc-provider's read of the same
   * grant that follows in the request (the adapter finds only what oidc-provider consumes: a code
   * exchange and a refresh read the token, then its grant): read at once with the token's grant
   * tombstone, taken once within GRANT_READ_MS, and
   * forgotten on any write of the grant here. Whether a token's grant is revoked is never taken
   * from here: every token read reads it.
   */
  private readonly grantsRead = new Map<string, { doc: OAuthModelDoc | null; endedAt: number | null; revokedAt: number | null; until: number }>();
  /** Live grants this instance wrote or read lately, by grant id: what the codes and refresh tokens it writes next carry (GrantCopy). */
  private readonly grantCopies = new Map<string, { copy: GrantCopy; until: number }>();

  constructor(connection: Connection, capabilities: MongoCapabilities, clock: Clock = systemClock, options: MongoOAuthModelStoreOptions = {}) {
    this.capabilities = capabilities;
    this.clock = clock;
    this.sweepEveryMs = options.sweepEveryMs ?? 60_000;
    this.legacyCheckMs = options.legacyCheckMs;
    const layout = (logical: Logical): BucketLayout => ({
      buckets: options.buckets ?? (capabilities.server === 'ferretdb' ? FERRETDB_BUCKETS[logical] : 1),
      perDatabase: options.perDatabase ?? FERRETDB_PER_DATABASE,
    });
    this.records = new BucketedCollection(connection, 'OAuthModel', 'oauth_models', oauthModelSchema, layout('records'));
    this.sessions = new BucketedCollection(connection, 'OAuthSession', 'oauth_sessions', oauthSessionSchema, layout('sessions'));
    this.consumed = new BucketedCollection(connection, 'OAuthConsumed', 'oauth_consumed', consumedSchema, layout('consumed'));
    this.ended = new BucketedCollection(connection, 'OAuthEnded', 'oauth_ended', endedSchema, layout('ended'));
    this.lookups = new BucketedCollection(connection, 'OAuthLookup', 'oauth_lookups', lookupSchema, layout('lookups'));
  }

  /** Idempotent: creates the collections and indexes and starts expiry (again). */
  async init(): Promise<void> {
    this.stop();
    const now = () => this.clock.now();
    for (const collection of this.all()) this.expiry.push(await collection.init(this.capabilities, this.sweepEveryMs, now, this.legacyCheckMs));
    // revokeByGrantId writes one tombstone; an index by grant, which deleting every record of a
    // grant once used, would only cost every insert.
    await this.records.dropIndexIfPresent(UNUSED_GRANT_INDEX);
  }

  /** Stops the sweeps (FerretDB); the connection is the caller's to close. */
  stop(): void {
    for (const handle of this.expiry) handle.stop();
    this.expiry = [];
  }

  /** How expired documents are deleted: by the server (TTL index) or by this process's sweeps. */
  get expiryMode(): ExpiryHandle['mode'] | null {
    return this.expiry[0]?.mode ?? null;
  }

  /** The physical collections of each logical one (tests). */
  locations(): Record<Logical, Location[]> {
    return { records: this.records.locations(), sessions: this.sessions.locations(), consumed: this.consumed.locations(), ended: this.ended.locations(), lookups: this.lookups.locations() };
  }

  /** Where the record of this key (`<model>:<id>`) is kept (the benchmark's seeding writes there). */
  recordLocation(key: string): Location {
    return this.collectionOf(modelOf(key)).locate(key);
  }

  /** Deletes expired records, markers, tombstones and pointers now (what the timers do in sweep mode). */
  async sweep(): Promise<{ records: number; sessions: number; consumed: number; ended: number; lookups: number }> {
    const [records, sessions, consumed, ended, lookups] = this.expiry;
    if (!records || !sessions || !consumed || !ended || !lookups) throw new Error('MongoOAuthModelStore.sweep() before init()');
    return { records: await records.sweep(), sessions: await sessions.sweep(), consumed: await consumed.sweep(), ended: await ended.sweep(), lookups: await lookups.sweep() };
  }

  async upsert(model: string, id: string, payload: Record<string, unknown>, expiresAt: Date | null): Promise<void> {
    const _id = recordKey(model, id);
    this.grantsRead.delete(_id);
    if (model === 'Grant') this.grantCopies.delete(id);
    const doc: OAuthModelDoc = { _id, model, payload: JSON.stringify(payload), expiresAt, savedAt: stamp() };
    const uid = stringField(payload, 'uid');
    const userCode = stringField(payload, 'userCode');
    const grantId = stringField(payload, 'grantId');
    if (uid !== undefined) doc.uid = uid;
    if (userCode !== undefined) doc.userCode = userCode;
    if (grantId !== undefined) doc.grantId = grantId;
    if (ENDED_HERE.has(model)) doc.endsHere = true;
    const copy = grantId !== undefined && CARRY_GRANT.has(model) ? this.grantCopy(grantId) : undefined;
    if (copy) doc.grant = copy;
    if (uid !== undefined) await this.point(uidKey(model, uid), _id, expiresAt);
    // A new record (every token and code, a new grant, a new session) is one insert.
    const records = this.collectionOf(model);
    if (await inserted(() => records.insert(doc))) {
      if (model === 'Grant') this.keepGrantCopy(doc);
      return;
    }
    // A grant saved again is marked where its tombstone goes, before it changes: copies of it are
    // not taken from then on (GrantCopy). One there already (an ended grant) does the same.
    if (model === 'Grant') await inserted(() => this.ended.insert({ _id: grantKey(id), at: SAVED_AGAIN, expiresAt }));
    await records.replace(_id, doc);
    // A consumed record stays consumed for as long as it now lives.
    await this.consumed.update(_id, { $set: { expiresAt } });
  }

  async find(model: string, id: string): Promise<OAuthRecord | null> {
    const _id = recordKey(model, id);
    const read = this.takeGrantRead(_id);
    if (read) return read.doc ? toRecord(read.doc, await this.consumed.findById(_id)) : null;
    const [doc, marker] = await Promise.all([this.liveById(_id, true), this.consumed.findById(_id)]);
    if (!doc) return this.forget(_id);
    this.remember(_id, doc, marker !== null);
    return toRecord(doc, marker);
  }

  /** As find without the marker; a code or refresh token read so is read with its grant, as find reads it. */
  async peek(model: string, id: string): Promise<Omit<OAuthRecord, 'consumedAt'> | null> {
    const _id = recordKey(model, id);
    const read = this.takeGrantRead(_id);
    const redeemable = !read && CARRY_GRANT.has(model);
    const doc = read ? read.doc : await this.liveById(_id, redeemable);
    if (!doc) return this.forget(_id);
    if (redeemable) this.remember(_id, doc, undefined);
    const { consumedAt: _consumed, ...rest } = toRecord(doc, null);
    return rest;
  }

  /** The pointer first; where a pointer was swept before its record, the indexed query (MongoDB) or scan. */
  async findByUid(model: string, uid: string): Promise<OAuthRecord | null> {
    const pointer = await this.lookups.findById(uidKey(model, uid));
    const doc = pointer ? await this.liveById(pointer.key) : await this.liveBy({ model, uid });
    if (!doc || doc.model !== model || doc.uid !== uid) return null;
    return toRecord(doc, await this.consumed.findById(doc._id));
  }

  async findByUserCode(model: string, userCode: string): Promise<OAuthRecord | null> {
    const doc = await this.liveBy({ model, userCode });
    return doc ? toRecord(doc, await this.consumed.findById(doc._id)) : null;
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
    const fresh = seen !== undefined && seen.until > Date.now() && this.live(seen) ? seen : null;
    const doc = fresh ?? (await this.liveById(_id));
    if (!doc) return false;
    // A marker of an earlier layout (FerretDB) still counts: once consumed, always consumed.
    // A find just before looked for markers everywhere; else the earlier layouts are asked.
    if (fresh?.consumed ?? (await this.consumed.findInEarlier(_id)) !== null) return false;
    return inserted(() => this.consumed.insert({ _id, at, expiresAt: dateOrNull(doc.expiresAt) }));
  }

  /*
   * Markers are never deleted when their records end, only by expiry: a redemption that read the
   * record before it was destroyed or revoked would otherwise find no marker and win. Once
   * consumed, always consumed (markers carry their record's expiry, so they do not pile up).
   */
  async destroy(model: string, id: string): Promise<void> {
    if (model === 'Grant') return this.revokeByGrantId(id);
    const _id = recordKey(model, id);
    this.recent.delete(_id);
    this.grantsRead.delete(_id);
    const doc = await this.stored(_id);
    if (doc?.endsHere) await this.collectionOf(model).update(_id, { $set: { endedAt: stamp() } });
    else await this.end(_id, doc ? dateOrNull(doc.expiresAt) : null);
  }

  /**
   * Every record of the grant, the Grant too, ends with one tombstone, read with each record. It
   * lives as long as the grant would have (its refresh tokens cannot outlive it).
   */
  async revokeByGrantId(grantId: string): Promise<void> {
    this.recent.clear();
    this.grantsRead.delete(recordKey('Grant', grantId));
    this.grantCopies.delete(grantId);
    const grant = await this.records.findById(recordKey('Grant', grantId), { expiresAt: 1 });
    await this.end(grantKey(grantId), grant ? dateOrNull(grant.expiresAt) : null);
  }

  private all(): Array<BucketedCollection<{ _id: string; expiresAt?: Date | null }>> {
    return [this.records, this.sessions, this.consumed, this.ended, this.lookups] as unknown as Array<BucketedCollection<{ _id: string; expiresAt?: Date | null }>>;
  }

  /** A record just found live, for the consume that follows (recent); `consumed` unknown where its marker was not read. */
  private remember(_id: string, doc: OAuthModelDoc, consumed: boolean | undefined): void {
    if (this.recent.size >= RECENT_MAX) this.recent.clear();
    this.recent.set(_id, { expiresAt: dateOrNull(doc.expiresAt), until: Date.now() + RECENT_MS, consumed });
  }

  /** A record found gone is not consumed on an earlier read of it. */
  private forget(_id: string): null {
    this.recent.delete(_id);
    return null;
  }

  /** A tombstone at this instant; one already there (a record saved and ended again) is moved on. */
  private async end(_id: string, expiresAt: Date | null): Promise<void> {
    const at = stamp();
    if (await inserted(() => this.ended.insert({ _id, at, expiresAt }))) return;
    await this.ended.replace(_id, { at, expiresAt });
  }

  /** A lookup pointer, written once: the record it names is checked on every read. */
  private async point(_id: string, key: string, expiresAt: Date | null): Promise<void> {
    if (await inserted(() => this.lookups.insert({ _id, key, expiresAt }))) return;
    const existing = await this.lookups.findById(_id);
    if (existing && existing.key !== key) await this.lookups.replace(_id, { key, expiresAt });
  }

  /** The record by primary key, expiry and tombstones checked here (an expiry filter in the query would be one more scan on FerretDB). */
  private async liveById(_id: string, readGrant = false): Promise<OAuthModelDoc | null> {
    if (ENDED_HERE.has(modelOf(_id))) {
      const doc = await this.stored(_id);
      return doc ? this.unended(doc, await this.ownEnd(doc), readGrant) : null;
    }
    const [doc, ended] = await Promise.all([this.stored(_id), this.endedAt(_id)]);
    return doc ? this.unended(doc, ended, readGrant) : null;
  }

  /** When the record itself ended: written into it, or (an earlier release's record) its tombstone. */
  private ownEnd(doc: OAuthModelDoc): number | null | Promise<number | null> {
    return doc.endsHere ? (doc.endedAt ?? null) : this.endedAt(doc._id);
  }

  /** The stored document by key, wherever its model lives (a session from before the move, in the records). */
  private async stored(_id: string): Promise<OAuthModelDoc | null> {
    const model = modelOf(_id);
    const doc = await this.collectionOf(model).findById(_id);
    if (doc || !REWRITTEN.has(model)) return doc;
    return this.records.findById(_id);
  }

  private collectionOf(model: string): BucketedCollection<OAuthModelDoc> {
    return REWRITTEN.has(model) ? this.sessions : this.records;
  }

  /** A lookup by a secondary field (never on a hot path: userCode, a swept uid pointer). */
  private async liveBy(filter: Filter<OAuthModelDoc>): Promise<OAuthModelDoc | null> {
    const query = { ...filter, ...this.unexpired() };
    const doc = (REWRITTEN.has(String(filter.model)) ? await this.sessions.findOne(query) : null) ?? (await this.records.findOne(query));
    return doc ? this.unended(doc, await this.ownEnd(doc)) : null;
  }

  /**
   * The record if it is live: unexpired, saved after any tombstone of its own or of its grant.
   * With `readGrant`, the grant it names is read at the same time as its grant's tombstone, for
   * the read of it that follows (grantsRead).
   */
  private async unended(doc: OAuthModelDoc, endedAt: number | null, readGrant = false): Promise<OAuthModelDoc | null> {
    const named = readGrant && doc.grantId !== undefined && doc.model !== 'Grant' ? doc.grantId : null;
    // What an earlier read left of the grant is not served past this one.
    if (named !== null) this.grantsRead.delete(recordKey('Grant', named));
    if (!this.liveGiven(doc, endedAt)) return null;
    // Its grant: the one it names, and for a Grant, itself.
    const grants = [...new Set([doc.grantId, doc.model === 'Grant' ? idOf(doc._id) : undefined].filter((g) => g !== undefined))];
    // A record carrying its grant (GrantCopy) needs only the grant's tombstone, which it reads anyway.
    const [ends, read] = await Promise.all([Promise.all(grants.map((g) => this.endedAt(grantKey(g)))), named === null || doc.grant ? null : this.readGrant(named)]);
    if (!this.liveGiven(doc, ...ends)) return null;
    if (doc.model === 'Grant') this.keepGrantCopy(doc, endedAt, ...ends);
    if (named !== null) {
      const revokedAt = ends[grants.indexOf(named)] ?? null;
      // The copy serves unless that tombstone exists: then the grant changed, and is read.
      const [grant, grantEndedAt] = read ?? (doc.grant && revokedAt === null ? [fromCopy(named, doc.grant), null] : await this.readGrant(named));
      if (grant) this.keepGrantCopy(grant, grantEndedAt, revokedAt);
      if (this.grantsRead.size >= RECENT_MAX) this.grantsRead.clear();
      this.grantsRead.set(recordKey('Grant', named), { doc: grant, endedAt: grantEndedAt, revokedAt, until: Date.now() + GRANT_READ_MS });
    }
    return doc;
  }

  /** A Grant record and its own tombstone (one that an earlier release wrote, by the record's key). */
  private readGrant(grantId: string): Promise<[OAuthModelDoc | null, number | null]> {
    return Promise.all([this.stored(recordKey('Grant', grantId)), this.endedAt(recordKey('Grant', grantId))]);
  }

  /** Keeps a Grant found live, for the codes and refresh tokens written next to carry. */
  private keepGrantCopy(grant: OAuthModelDoc, ...ends: Array<number | null>): void {
    if (grant.savedAt === undefined || !this.liveGiven(grant, ...ends)) return;
    if (this.grantCopies.size >= RECENT_MAX) this.grantCopies.clear();
    this.grantCopies.set(idOf(grant._id), { copy: { payload: grant.payload, expiresAt: dateOrNull(grant.expiresAt), savedAt: grant.savedAt }, until: Date.now() + GRANT_COPY_MS });
  }

  private grantCopy(grantId: string): GrantCopy | undefined {
    const kept = this.grantCopies.get(grantId);
    if (kept && kept.until > Date.now()) return kept.copy;
    this.grantCopies.delete(grantId);
    return undefined;
  }

  /** Unexpired, and saved after each of these tombstones (a record saved after its tombstone lives again). */
  private liveGiven(doc: OAuthModelDoc, ...ends: Array<number | null>): boolean {
    const savedAt = doc.savedAt ?? 0;
    return this.live(doc) && ends.every((at) => at === null || at < savedAt);
  }

  /**
   * A grant read with a token of it a moment ago (grantsRead), once: the stored grant if it is
   * live, null if not; undefined when there is no such read to take.
   */
  private takeGrantRead(_id: string): { doc: OAuthModelDoc | null } | undefined {
    const read = this.grantsRead.get(_id);
    if (!read) return undefined;
    this.grantsRead.delete(_id);
    const { doc } = read;
    if (read.until <= Date.now() || (doc?.grantId !== undefined && recordKey('Grant', doc.grantId) !== _id)) return undefined;
    return { doc: doc && this.liveGiven(doc, read.endedAt, read.revokedAt) ? doc : null };
  }

  private async endedAt(_id: string): Promise<number | null> {
    const doc = await this.ended.findById(_id);
    return doc ? doc.at : null;
  }

  /** Expiry is a rule of reading: TTL indexes and sweeps only collect the garbage, later. */
  private live(doc: Pick<OAuthModelDoc, 'expiresAt'>): boolean {
    return doc.expiresAt === null || doc.expiresAt === undefined || new Date(doc.expiresAt).getTime() > this.clock.now().getTime();
  }

  private unexpired(): Filter<OAuthModelDoc> {
    return { $or: [{ expiresAt: null }, { expiresAt: { $gt: this.clock.now() } }] };
  }
}

const RECENT_MS = 1_000;
/**
 * How long a grant this instance wrote or read is copied into the codes and refresh tokens it
 * writes: a code is written in the request after the consent that wrote its grant, a refresh
 * token in the request that read it. (Any age would be right: a copy is checked on every read.)
 */
const GRANT_COPY_MS = 60_000;
/** The tombstone of a grant saved again: it ends nothing (every record is saved after it), and it makes readers read the grant. */
const SAVED_AGAIN = -1;
/** A grant read with its token serves the read of it that follows in the same request, and no later one. */
const GRANT_READ_MS = 100;
const UNUSED_GRANT_INDEX = 'grantId_1';
const RECENT_MAX = 10_000;

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
/** The model and the id of a record key (`<model>:<id>`; ids may hold colons, models do not). */
const modelOf = (key: string): string => key.slice(0, key.indexOf(':'));
const idOf = (key: string): string => key.slice(key.indexOf(':') + 1);
const grantKey = (grantId: string): string => `grant:${grantId}`;
const uidKey = (model: string, uid: string): string => `${model}:uid:${uid}`;

function stringField(payload: Record<string, unknown>, name: string): string | undefined {
  const value = payload[name];
  return typeof value === 'string' ? value : undefined;
}

const dateOrNull = (value: Date | null | undefined): Date | null => (value == null ? null : new Date(value));

/** The Grant record a copy was taken from, as stored. */
function fromCopy(grantId: string, copy: GrantCopy): OAuthModelDoc {
  return { _id: recordKey('Grant', grantId), model: 'Grant', payload: copy.payload, expiresAt: copy.expiresAt, savedAt: copy.savedAt };
}

function toRecord(doc: OAuthModelDoc, marker: ConsumedDoc | null): OAuthRecord {
  return {
    payload: JSON.parse(doc.payload) as Record<string, unknown>,
    expiresAt: dateOrNull(doc.expiresAt),
    consumedAt: marker ? new Date(marker.at) : null,
  };
}
