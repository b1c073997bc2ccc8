import { Schema, type Connection, type Model } from 'mongoose';
import type { Balance, DailyUsage, MeteredCredential, MeteringStore, UsageDelta } from '../../ports.ts';
import { ConflictError } from '../../errors/index.ts';
import { ensureCollection } from './ensure-collection.ts';
import { ferretQueueFor, type KeyedQueue } from './ferret-write-queue.ts';
import { mongoCall } from './mongo-errors.ts';

/**
 * Usage per credential per UTC day (`usage_daily`, one document each, keyed by credential and day
 * so that every write is a primary-key upsert), and what organizations were credited
 * (`org_balances`); what they spent is the sum of their usage's credits. Writes are `$inc`: deltas
 * from several instances add up (atomically on MongoDB; FerretDB applies them as a read and a
 * rewrite).
 */
interface UsageDoc {
  _id: string;
  kind: 'api_key' | 'oauth';
  credentialId: string;
  orgId: string;
  day: string;
  requests: number;
  credits: number;
}

interface BalanceDoc {
  _id: string;
  credited: number;
}

const usageSchema = new Schema<UsageDoc>(
  {
    _id: { type: String, required: true },
    kind: { type: String, required: true, enum: ['api_key', 'oauth'] },
    credentialId: { type: String, required: true },
    orgId: { type: String, required: true },
    day: { type: String, required: true },
    requests: { type: Number, default: 0 },
    credits: { type: Number, default: 0 },
  },
  { collection: 'usage_daily', versionKey: false, strict: 'throw' },
);
// A credential's daily series.
usageSchema.index({ kind: 1, credentialId: 1, day: 1 }, { name: 'kind_1_credentialId_1_day_1' });
// An organization's spent credits.
usageSchema.index({ orgId: 1 }, { name: 'orgId_1' });

const balanceSchema = new Schema<BalanceDoc>(
  {
    _id: { type: String, required: true },
    credited: { type: Number, default: 0 },
  },
  { collection: 'org_balances', versionKey: false, strict: 'throw' },
);

export class MongoMeteringStore implements MeteringStore {
  private readonly connection: Connection;
  private readonly usage: Model<UsageDoc>;
  private readonly balances: Model<BalanceDoc>;
  /** Set by init() on FerretDB only (see ferretQueueFor). */
  private queue: KeyedQueue | null = null;

  constructor(connection: Connection) {
    this.connection = connection;
    this.usage = connection.model<UsageDoc>('UsageDaily', usageSchema);
    this.balances = connection.model<BalanceDoc>('OrgBalance', balanceSchema);
  }

  async init(): Promise<void> {
    await ensureCollection(this.usage);
    await ensureCollection(this.balances);
    this.queue = await ferretQueueFor(this.connection);
  }

  async add(d: UsageDelta): Promise<void> {
    await this.upsertInc(this.usage, usageId(d.credential, d.day), { requests: d.requests, credits: d.credits }, { kind: d.credential.kind, credentialId: d.credential.id, orgId: d.orgId, day: d.day });
  }

  async series(credential: MeteredCredential, from: string, to: string): Promise<DailyUsage[]> {
    const docs = await mongoCall(() =>
      this.usage.find({ kind: credential.kind, credentialId: credential.id, day: { $gte: from, $lte: to } }).sort({ day: 1 }).lean<UsageDoc[]>().exec(),
    );
    return docs.map((doc) => ({ day: doc.day, requests: doc.requests, credits: doc.credits }));
  }

  /** Spent is the sum of the organization's usage: read rarely (a balance loaded, or shown). */
  async balance(orgId: string): Promise<Balance> {
    const [doc, spent] = await Promise.all([
      mongoCall(() => this.balances.findById(orgId).lean<BalanceDoc>().exec()),
      mongoCall(() => this.usage.aggregate<{ total: number }>([{ $match: { orgId } }, { $group: { _id: null, total: { $sum: '$credits' } } }]).exec()),
    ]);
    return { credited: doc?.credited ?? 0, spent: spent[0]?.total ?? 0 };
  }

  async credited(orgId: string): Promise<number> {
    const doc = await mongoCall(() => this.balances.findById(orgId).lean<BalanceDoc>().exec());
    return doc?.credited ?? 0;
  }

  async credit(orgId: string, credits: number): Promise<Balance> {
    await this.upsertInc(this.balances, orgId, { credited: credits }, {});
    return this.balance(orgId);
  }

  /**
   * `$inc` on one document, created when absent. Two first upserts of one id can both try the
   * insert (FerretDB does not retry it, as MongoDB does): the loser's is then an update. On
   * FerretDB, writes to one document are queued in this process (see ferretQueueFor).
   */
  private async upsertInc<D extends { _id: string }>(model: Model<D>, id: string, inc: Record<string, number>, onInsert: Record<string, unknown>): Promise<D> {
    const write = () => model.findOneAndUpdate({ _id: id } as never, { $inc: inc, $setOnInsert: onInsert } as never, { upsert: true, returnDocument: 'after' }).lean<D>().exec();
    return this.serialized(id, async () => {
      try {
        return (await mongoCall(write))!;
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
        return (await mongoCall(write))!;
      }
    });
  }

  private serialized<T>(id: string, write: () => Promise<T>): Promise<T> {
    return this.queue ? this.queue.run(id, write) : write();
  }
}

const usageId = (credential: MeteredCredential, day: string): string => `${credential.kind}:${credential.id}:${day}`;
