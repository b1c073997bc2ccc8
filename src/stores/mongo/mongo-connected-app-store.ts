import { Schema, type Connection, type Model, type QueryFilter } from 'mongoose';
import { NO_LIMITS, type CredentialLimits } from '../../domain/limits.ts';
import type { ConnectedApp, ConnectedAppRecord } from '../../domain/oauth.ts';
import { ConflictError } from '../../errors/index.ts';
import type { ConnectedAppStore } from '../../ports.ts';
import { ferretQueueFor, type KeyedQueue } from './ferret-write-queue.ts';
import type { Location } from './bucketed-collection.ts';
import { UsageCollection } from './usage-collection.ts';
import { mongoCall } from './mongo-errors.ts';
import { ensureCollection } from './ensure-collection.ts';

interface ConnectedAppDoc {
  _id: string;
  userId: string;
  orgId: string;
  clientId: string;
  scopes: string[];
  limits: CredentialLimits;
  createdAt: Date;
  revokedAt: Date | null;
}

const limitsSchema = new Schema<CredentialLimits>(
  {
    rateLimitPerMinute: { type: Number, default: null },
    rateLimitPerDay: { type: Number, default: null },
    dailySpendCap: { type: Number, default: null },
  },
  { _id: false, strict: 'throw' },
);

const connectedAppSchema = new Schema<ConnectedAppDoc>(
  {
    _id: { type: String, required: true },
    userId: { type: String, required: true },
    orgId: { type: String, required: true },
    clientId: { type: String, required: true },
    scopes: { type: [String], default: [] },
    limits: { type: limitsSchema, default: () => ({ ...NO_LIMITS }) },
    createdAt: { type: Date, required: true },
    revokedAt: { type: Date, default: null },
  },
  { collection: 'connected_apps', versionKey: false, strict: 'throw' },
);
// A user's connected apps, newest first, in every organization or in one.
connectedAppSchema.index({ userId: 1, orgId: 1, createdAt: -1 }, { name: 'userId_1_orgId_1_createdAt_-1' });
// An organization's connected apps, newest first.
connectedAppSchema.index({ orgId: 1, createdAt: -1 }, { name: 'orgId_1_createdAt_-1' });

export class MongoConnectedAppStore implements ConnectedAppStore {
  private readonly connection: Connection;
  private readonly model: Model<ConnectedAppDoc>;
  private readonly usage: UsageCollection;
  /** Set by init() on FerretDB only (see ferretQueueFor). */
  private queue: KeyedQueue | null = null;

  constructor(connection: Connection) {
    this.connection = connection;
    this.model = connection.model<ConnectedAppDoc>('ConnectedApp', connectedAppSchema);
    this.usage = new UsageCollection(connection, 'ConnectedAppUsage', 'connected_app_usage');
  }

  async init(): Promise<void> {
    await ensureCollection(this.model);
    this.queue = await ferretQueueFor(this.connection);
    await this.usage.init(this.queue);
  }

  /** Where a grant's last use is kept (after init; the benchmark's seeding writes there). */
  usageLocation(grantId: string): Location {
    return this.usage.locate(grantId);
  }

  /**
   * Insert the grant; where its id is there already (a consent again, on the same grant), replace
   * the scopes of the live grant (one conditional update: a revoked grant never matches), and a
   * revoked grant is returned as is. Insert first: a new connection is the common case, and on
   * FerretDB an insert is cheap where a conditional update decodes every connected app.
   */
  async upsert(app: ConnectedApp): Promise<ConnectedApp> {
    const { doc, inserted } = await this.serialized(app.id, async () => {
      try {
        await mongoCall(
          () => this.model.create(toDoc(app)),
          () => new ConflictError('A connected app with this id already exists', 'id'),
        );
        return { doc: toDoc(app), inserted: true };
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
        const existing =
          (await this.replaceScopes(app)) ?? (await mongoCall(() => this.model.findById(app.id).lean<ConnectedAppDoc>().exec()));
        // Grants are never deleted, so the document that refused the insert is still there.
        if (!existing) throw error;
        return { doc: existing, inserted: false };
      }
    });
    // A use recorded on the inserted grant goes where uses are kept.
    if (inserted && app.lastUsedAt !== null) await this.touchLastUsed(app.id, app.lastUsedAt);
    return (await this.withUsage([doc]))[0]!;
  }

  async findById(id: string): Promise<ConnectedApp | null> {
    const doc = await mongoCall(() => this.model.findById(id).lean<ConnectedAppDoc>().exec());
    return doc ? (await this.withUsage([doc]))[0]! : null;
  }

  async findRecord(id: string): Promise<ConnectedAppRecord | null> {
    const doc = await mongoCall(() => this.model.findById(id).lean<ConnectedAppDoc>().exec());
    return doc ? toConnectedAppRecord(doc) : null;
  }

  async listForUser(userId: string, orgId?: string): Promise<ConnectedApp[]> {
    const query: QueryFilter<ConnectedAppDoc> = { userId, revokedAt: null };
    if (orgId !== undefined) query.orgId = orgId;
    return this.list(query);
  }

  async listForOrg(orgId: string): Promise<ConnectedApp[]> {
    return this.list({ orgId, revokedAt: null });
  }

  /** The condition `revokedAt: null` is in the filter: of two revocations only one matches. */
  async revoke(id: string, at: Date): Promise<ConnectedApp | null> {
    const doc = await this.serialized(id, () =>
      mongoCall(() =>
        this.model
          .findOneAndUpdate({ _id: id, revokedAt: null }, { $set: { revokedAt: at } }, { returnDocument: 'after' })
          .lean<ConnectedAppDoc>()
          .exec(),
      ),
    );
    return doc ? (await this.withUsage([doc]))[0]! : null;
  }

  async setLimits(id: string, limits: CredentialLimits): Promise<ConnectedApp | null> {
    const doc = await this.serialized(id, () =>
      mongoCall(() =>
        this.model
          .findOneAndUpdate({ _id: id, revokedAt: null }, { $set: { limits: toLimits(limits) } }, { returnDocument: 'after' })
          .lean<ConnectedAppDoc>()
          .exec(),
      ),
    );
    return doc ? (await this.withUsage([doc]))[0]! : null;
  }

  async touchLastUsed(id: string, at: Date): Promise<void> {
    await this.usage.touch(id, at);
  }


  private replaceScopes(app: ConnectedApp): Promise<ConnectedAppDoc | null> {
    return mongoCall(() =>
      this.model
        .findOneAndUpdate({ _id: app.id, revokedAt: null }, { $set: { scopes: [...app.scopes] } }, { returnDocument: 'after' })
        .lean<ConnectedAppDoc>()
        .exec(),
    );
  }

  private async list(query: QueryFilter<ConnectedAppDoc>): Promise<ConnectedApp[]> {
    const docs = await mongoCall(() => this.model.find(query).sort({ createdAt: -1, _id: -1 }).lean<ConnectedAppDoc[]>().exec());
    return this.withUsage(docs);
  }

  private async withUsage(docs: ConnectedAppDoc[]): Promise<ConnectedApp[]> {
    const lastUsed = await this.usage.lastUsed(docs.map((d) => d._id));
    return docs.map((doc) => toConnectedApp(doc, lastUsed.get(doc._id)?.at ?? null));
  }


  private serialized<T>(key: string, write: () => Promise<T>): Promise<T> {
    return this.queue ? this.queue.run(`connected_app:${key}`, write) : write();
  }
}

function toDoc(app: ConnectedApp): ConnectedAppDoc {
  return {
    _id: app.id,
    userId: app.userId,
    orgId: app.orgId,
    clientId: app.clientId,
    scopes: [...app.scopes],
    limits: toLimits(app.limits),
    createdAt: app.createdAt,
    revokedAt: app.revokedAt,
  };
}

function toConnectedApp(doc: ConnectedAppDoc, lastUsedAt: Date | null): ConnectedApp {
  return { ...toConnectedAppRecord(doc), lastUsedAt };
}

function toConnectedAppRecord(doc: ConnectedAppDoc): ConnectedAppRecord {
  return {
    id: doc._id,
    userId: doc.userId,
    orgId: doc.orgId,
    clientId: doc.clientId,
    scopes: [...(doc.scopes ?? [])],
    limits: toLimits(doc.limits),
    createdAt: new Date(doc.createdAt),
    revokedAt: doc.revokedAt == null ? null : new Date(doc.revokedAt),
  };
}

/** Only the known fields (strict mode refuses others); a document older than limits has none. */
function toLimits(limits: Partial<CredentialLimits> | null | undefined): CredentialLimits {
  return { rateLimitPerMinute: limits?.rateLimitPerMinute ?? null, rateLimitPerDay: limits?.rateLimitPerDay ?? null, dailySpendCap: limits?.dailySpendCap ?? null };
}
