import { Schema, type Connection, type Model, type QueryFilter } from 'mongoose';
import type { ApiKey, ApiKeyRecord, KeyLimits } from '../../domain/api-key.ts';
import { ROLES, type Role } from '../../domain/accounts.ts';
import type { KeyEnv } from '../../domain/api-key-format.ts';
import { ConflictError } from '../../errors/index.ts';
import type { ApiKeyConditions, ApiKeyPatch, ApiKeyStore } from '../../ports.ts';
import { ferretQueueFor, type KeyedQueue } from './ferret-write-queue.ts';
import type { Location } from './bucketed-collection.ts';
import { UsageCollection, type LastUse } from './usage-collection.ts';
import { mongoCall } from './mongo-errors.ts';
import { ensureCollection } from './ensure-collection.ts';

/**
 * Keys are stored under their hash: the lookup of every authentication is a primary-key read,
 * which every server answers from its primary index (FerretDB's SQLite backend scans for any
 * other field). The key id, used by the management API, has its own unique index.
 */
interface ApiKeyDoc {
  /** Hex SHA-256 of the whole key. */
  _id: string;
  keyId: string;
  orgId: string;
  userId: string;
  name: string | null;
  scopes: string[];
  env: KeyEnv;
  start: string | null;
  active: boolean;
  disabledByRole: Role | null;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  limits: KeyLimits;
  rotatedFrom: string | null;
  rotatedTo: string | null;
}

const limitsSchema = new Schema<KeyLimits>(
  {
    rateLimitPerMinute: { type: Number, default: null },
    rateLimitPerDay: { type: Number, default: null },
    dailySpendCap: { type: Number, default: null },
  },
  { _id: false, strict: 'throw' },
);

const apiKeySchema = new Schema<ApiKeyDoc>(
  {
    _id: { type: String, required: true },
    keyId: { type: String, required: true },
    orgId: { type: String, required: true },
    userId: { type: String, required: true },
    name: { type: String, default: null },
    scopes: { type: [String], default: [] },
    env: { type: String, required: true, enum: ['live', 'test'] },
    start: { type: String, default: null },
    active: { type: Boolean, default: true },
    disabledByRole: { type: String, default: null, enum: [...ROLES, null] },
    createdAt: { type: Date, required: true },
    expiresAt: { type: Date, default: null },
    revokedAt: { type: Date, default: null },
    limits: { type: limitsSchema, default: () => ({ rateLimitPerMinute: null, rateLimitPerDay: null, dailySpendCap: null }) },
    rotatedFrom: { type: String, default: null },
    rotatedTo: { type: String, default: null },
  },
  { collection: 'api_keys', versionKey: false, strict: 'throw' },
);
// The management API finds keys by id.
apiKeySchema.index({ keyId: 1 }, { unique: true, name: 'keyId_1' });
// An organization's keys, newest first.
apiKeySchema.index({ orgId: 1, createdAt: -1 }, { name: 'orgId_1_createdAt_-1' });
// An editor's own keys, newest first.
apiKeySchema.index({ orgId: 1, userId: 1, createdAt: -1 }, { name: 'orgId_1_userId_1_createdAt_-1' });

export class MongoApiKeyStore implements ApiKeyStore {
  private readonly connection: Connection;
  private readonly model: Model<ApiKeyDoc>;
  private readonly usage: UsageCollection;
  /** Set by init() on FerretDB only; shared by every store on the same connection. */
  private queue: KeyedQueue | null = null;

  constructor(connection: Connection) {
    this.connection = connection;
    this.model = connection.model<ApiKeyDoc>('ApiKey', apiKeySchema);
    this.usage = new UsageCollection(connection, 'ApiKeyUsage', 'api_key_usage');
  }

  async init(): Promise<void> {
    await ensureCollection(this.model);
    this.queue = await ferretQueueFor(this.connection);
    await this.usage.init(this.queue);
  }

  /** Where a key's last use (by its key id) is kept (after init). */
  usageLocation(keyId: string): Location {
    return this.usage.locate(keyId);
  }

  async insert(key: ApiKey): Promise<void> {
    await mongoCall(
      () => this.model.create(toDoc(key)),
      // Neither server reliably names the refusing index: look. The hash first, so that the same
      // key stored twice is "already stored" whatever its id.
      async () =>
        (await this.model.exists({ _id: key.hash }))
          ? new ConflictError('This API key is already stored', 'hash')
          : new ConflictError('An API key with this id already exists', 'id'),
    );
    if (key.lastUsedAt !== null) await this.touchLastUsed(key.id, key.lastUsedAt, key.lastUsedFrom);
  }

  async findById(id: string): Promise<ApiKey | null> {
    const doc = await mongoCall(() => this.model.findOne({ keyId: id }).lean<ApiKeyDoc>().exec());
    return doc ? (await this.withUsage([doc]))[0]! : null;
  }

  async findByHash(hash: string): Promise<ApiKeyRecord | null> {
    const doc = await mongoCall(() => this.model.findById(hash).lean<ApiKeyDoc>().exec());
    return doc ? toApiKeyRecord(doc) : null;
  }

  async listForOrg(orgId: string, filter: { userId?: string } = {}): Promise<ApiKey[]> {
    const query: QueryFilter<ApiKeyDoc> = { orgId, revokedAt: null };
    if (filter.userId !== undefined) query.userId = filter.userId;
    const docs = await mongoCall(() => this.model.find(query).sort({ createdAt: -1, keyId: -1 }).lean<ApiKeyDoc[]>().exec());
    return this.withUsage(docs);
  }

  /**
   * The conditions are part of the filter of one findOneAndUpdate, so the server checks and
   * writes atomically: of two concurrent rotations only one finds `rotatedTo: null`.
   */
  async update(id: string, patch: ApiKeyPatch, conditions: ApiKeyConditions = {}): Promise<ApiKey | null> {
    const query: QueryFilter<ApiKeyDoc> = { keyId: id };
    // `null` also matches a missing field, which is what an older document would have.
    if (conditions.notRevoked) query.revokedAt = null;
    if (conditions.notRotated) query.rotatedTo = null;
    if (conditions.disabledByRole !== undefined) query.disabledByRole = conditions.disabledByRole;
    const set = toSet(patch);
    const doc = await this.serialized(id, () =>
      mongoCall(() =>
        Object.keys(set).length === 0
          ? this.model.findOne(query).lean<ApiKeyDoc>().exec()
          : this.model.findOneAndUpdate(query, { $set: set }, { returnDocument: 'after' }).lean<ApiKeyDoc>().exec(),
      ),
    );
    return doc ? (await this.withUsage([doc]))[0]! : null;
  }

  async touchLastUsed(id: string, at: Date, from: string | null): Promise<void> {
    await this.usage.touch(id, at, from);
  }


  private async withUsage(docs: ApiKeyDoc[]): Promise<ApiKey[]> {
    const lastUsed = await this.usage.lastUsed(docs.map((d) => d.keyId));
    return docs.map((doc) => toApiKey(doc, lastUsed.get(doc.keyId) ?? null));
  }


  private serialized<T>(id: string, write: () => Promise<T>): Promise<T> {
    return this.queue ? this.queue.run(id, write) : write();
  }
}

function toSet(patch: ApiKeyPatch): Partial<ApiKeyDoc> {
  const set: Partial<ApiKeyDoc> = {};
  if (patch.name !== undefined) set.name = patch.name;
  if (patch.scopes !== undefined) set.scopes = [...patch.scopes];
  if (patch.active !== undefined) set.active = patch.active;
  if (patch.disabledByRole !== undefined) set.disabledByRole = patch.disabledByRole;
  if (patch.expiresAt !== undefined) set.expiresAt = patch.expiresAt;
  if (patch.revokedAt !== undefined) set.revokedAt = patch.revokedAt;
  if (patch.limits !== undefined) set.limits = toLimits(patch.limits);
  if (patch.rotatedTo !== undefined) set.rotatedTo = patch.rotatedTo;
  return set;
}

function toDoc(key: ApiKey): ApiKeyDoc {
  return {
    _id: key.hash,
    keyId: key.id,
    orgId: key.orgId,
    userId: key.userId,
    name: key.name,
    scopes: [...key.scopes],
    env: key.env,
    start: key.start,
    active: key.active,
    disabledByRole: key.disabledByRole,
    createdAt: key.createdAt,
    expiresAt: key.expiresAt,
    revokedAt: key.revokedAt,
    limits: toLimits(key.limits),
    rotatedFrom: key.rotatedFrom,
    rotatedTo: key.rotatedTo,
  };
}

/** Only the known fields: strict mode would refuse anything else the caller's object carries. */
function toLimits(limits: Partial<KeyLimits> | null | undefined): KeyLimits {
  return { rateLimitPerMinute: limits?.rateLimitPerMinute ?? null, rateLimitPerDay: limits?.rateLimitPerDay ?? null, dailySpendCap: limits?.dailySpendCap ?? null };
}

const dateOrNull = (value: Date | null | undefined): Date | null => (value == null ? null : new Date(value));

function toApiKey(doc: ApiKeyDoc, lastUse: LastUse | null): ApiKey {
  return { ...toApiKeyRecord(doc), lastUsedAt: lastUse?.at ?? null, lastUsedFrom: lastUse?.from ?? null };
}

function toApiKeyRecord(doc: ApiKeyDoc): ApiKeyRecord {
  return {
    id: doc.keyId,
    orgId: doc.orgId,
    userId: doc.userId,
    name: doc.name ?? null,
    scopes: [...(doc.scopes ?? [])],
    env: doc.env,
    hash: doc._id,
    start: doc.start ?? null,
    active: doc.active !== false,
    disabledByRole: doc.disabledByRole ?? null,
    createdAt: new Date(doc.createdAt),
    expiresAt: dateOrNull(doc.expiresAt),
    revokedAt: dateOrNull(doc.revokedAt),
    limits: toLimits(doc.limits),
    rotatedFrom: doc.rotatedFrom ?? null,
    rotatedTo: doc.rotatedTo ?? null,
  };
}
