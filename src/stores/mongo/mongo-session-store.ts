import { Schema, type Connection, type Model } from 'mongoose';
import type { SessionRecord } from '../../domain/session.ts';
import { ConflictError } from '../../errors/index.ts';
import type { Clock, SessionStore } from '../../ports.ts';
import { ensureCollection } from './ensure-collection.ts';
import { ensureExpiry, type ExpiryHandle } from './expiry.ts';
import type { MongoCapabilities } from './mongo-connection.ts';
import { mongoCall } from './mongo-errors.ts';

interface SessionDoc extends Omit<SessionRecord, 'id'> {
  _id: string;
}

const sessionSchema = new Schema<SessionDoc>(
  {
    _id: { type: String, required: true },
    publicId: { type: String, required: true },
    userId: { type: String, required: true },
    orgId: { type: String, required: true },
    createdAt: { type: Date, required: true },
    lastSeenAt: { type: Date, required: true },
    expiresAt: { type: Date, required: true },
    createdFrom: { type: String, default: '' },
    userAgent: { type: String, default: '' },
  },
  { collection: 'sessions', versionKey: false, strict: 'throw' },
);
// A user's sessions, newest first (the list a person sees; signing out everywhere).
sessionSchema.index({ userId: 1, createdAt: -1 }, { name: 'userId_1_createdAt_-1' });

/**
 * Console sessions by the SHA-256 of their token: every request reads one by `_id`. Expired
 * sessions are removed by a TTL index on MongoDB, by a sweep on FerretDB; readers check expiry
 * themselves either way (domain/session.ts).
 */
export class MongoSessionStore implements SessionStore {
  private readonly model: Model<SessionDoc>;
  private readonly capabilities: MongoCapabilities;
  private readonly clock: Clock;
  private expiry: ExpiryHandle | null = null;

  constructor(connection: Connection, capabilities: MongoCapabilities, clock: Clock) {
    this.model = connection.model<SessionDoc>('Session', sessionSchema);
    this.capabilities = capabilities;
    this.clock = clock;
  }

  async init(): Promise<void> {
    await ensureCollection(this.model);
    this.expiry = await ensureExpiry(this.model as unknown as Model<never>, 'expiresAt', this.capabilities, 60_000, () => this.clock.now());
  }

  /** Stops the sweep (FerretDB); the connection is the caller's to close. */
  stop(): void {
    this.expiry?.stop();
    this.expiry = null;
  }

  async insert(session: SessionRecord): Promise<void> {
    const { id, ...rest } = session;
    await mongoCall(
      () => this.model.create({ _id: id, ...rest }),
      () => new ConflictError('A session with this id already exists', 'id'),
    );
  }

  async findById(id: string): Promise<SessionRecord | null> {
    const doc = await mongoCall(() => this.model.findById(id).lean<SessionDoc>().exec());
    return doc ? fromDoc(doc) : null;
  }

  async update(id: string, patch: Partial<Pick<SessionRecord, 'lastSeenAt' | 'orgId'>>): Promise<SessionRecord | null> {
    const doc = await mongoCall(() => this.model.findOneAndUpdate({ _id: id }, { $set: patch }, { returnDocument: 'after' }).lean<SessionDoc>().exec());
    return doc ? fromDoc(doc) : null;
  }

  async delete(id: string): Promise<boolean> {
    const result = await mongoCall(() => this.model.deleteOne({ _id: id }).exec());
    return result.deletedCount === 1;
  }

  async listForUser(userId: string): Promise<SessionRecord[]> {
    const docs = await mongoCall(() => this.model.find({ userId }).sort({ createdAt: -1 }).lean<SessionDoc[]>().exec());
    return docs.map(fromDoc);
  }

  async deleteForUser(userId: string): Promise<number> {
    const result = await mongoCall(() => this.model.deleteMany({ userId }).exec());
    return result.deletedCount ?? 0;
  }
}

function fromDoc(doc: SessionDoc): SessionRecord {
  const { _id, ...rest } = doc;
  return { id: _id, ...rest };
}
