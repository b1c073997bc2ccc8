import { Schema, type Connection, type Model } from 'mongoose';
import type { Membership, Role } from '../../domain/accounts.ts';
import { ConflictError } from '../../errors/index.ts';
import type { MembershipStore } from '../../ports.ts';
import { mongoCall } from './mongo-errors.ts';
import { ensureCollection } from './ensure-collection.ts';

interface MembershipDoc {
  _id: string;
  userId: string;
  orgId: string;
  role: Role;
  createdAt: Date;
}

const membershipSchema = new Schema<MembershipDoc>(
  {
    _id: { type: String, required: true },
    userId: { type: String, required: true },
    orgId: { type: String, required: true },
    role: { type: String, required: true },
    createdAt: { type: Date, required: true },
  },
  { collection: 'memberships', versionKey: false, strict: 'throw' },
);
// One membership per (user, org); also serves "my organizations" (prefix userId).
membershipSchema.index({ userId: 1, orgId: 1 }, { unique: true, name: 'userId_1_orgId_1' });
// "Members of this organization".
membershipSchema.index({ orgId: 1, createdAt: 1 }, { name: 'orgId_1_createdAt_1' });

export class MongoMembershipStore implements MembershipStore {
  private readonly model: Model<MembershipDoc>;

  constructor(connection: Connection) {
    this.model = connection.model<MembershipDoc>('Membership', membershipSchema);
  }

  async init(): Promise<void> {
    await ensureCollection(this.model);
  }

  /**
   * One conditional upsert keyed by the unique (user, org) pair, so concurrent upserts cannot
   * create two memberships; the id and createdAt of an existing membership are kept.
   */
  async upsert(membership: Membership): Promise<Membership> {
    try {
      return await this.upsertOnce(membership);
    } catch (error) {
      // Two concurrent upserts can both miss and both insert; the unique index refuses the
      // second, which then finds the winner's document on a retry.
      if (!(error instanceof ConflictError)) throw error;
      return this.upsertOnce(membership);
    }
  }

  private async upsertOnce(membership: Membership): Promise<Membership> {
    const doc = await mongoCall(() =>
      this.model
        .findOneAndUpdate(
          { userId: membership.userId, orgId: membership.orgId },
          {
            $set: { role: membership.role },
            $setOnInsert: { _id: membership.id, createdAt: membership.createdAt },
          },
          { upsert: true, returnDocument: 'after' },
        )
        .lean<MembershipDoc>()
        .exec(),
    );
    return toMembership(doc!);
  }

  async find(userId: string, orgId: string): Promise<Membership | null> {
    const doc = await mongoCall(() => this.model.findOne({ userId, orgId }).lean<MembershipDoc>().exec());
    return doc ? toMembership(doc) : null;
  }

  async listForUser(userId: string): Promise<Membership[]> {
    const docs = await mongoCall(() => this.model.find({ userId }).sort({ createdAt: 1, _id: 1 }).lean<MembershipDoc[]>().exec());
    return docs.map(toMembership);
  }

  async listForOrg(orgId: string): Promise<Membership[]> {
    const docs = await mongoCall(() => this.model.find({ orgId }).sort({ createdAt: 1, _id: 1 }).lean<MembershipDoc[]>().exec());
    return docs.map(toMembership);
  }

  async remove(userId: string, orgId: string): Promise<boolean> {
    const result = await mongoCall(() => this.model.deleteOne({ userId, orgId }).exec());
    return result.deletedCount === 1;
  }
}

function toMembership(doc: MembershipDoc): Membership {
  return { id: doc._id, userId: doc.userId, orgId: doc.orgId, role: doc.role, createdAt: new Date(doc.createdAt) };
}
