import { Schema, type Connection, type Model } from 'mongoose';
import type { Organization } from '../../domain/accounts.ts';
import { ConflictError } from '../../errors/index.ts';
import type { OrganizationPatch, OrganizationStore } from '../../ports.ts';
import { mongoCall } from './mongo-errors.ts';
import { ensureCollection } from './ensure-collection.ts';

interface OrganizationDoc {
  _id: string;
  name: string;
  plan: string;
  disabled: boolean;
  createdAt: Date;
}

const organizationSchema = new Schema<OrganizationDoc>(
  {
    _id: { type: String, required: true },
    name: { type: String, required: true },
    plan: { type: String, required: true },
    disabled: { type: Boolean, default: false },
    createdAt: { type: Date, required: true },
  },
  { collection: 'organizations', versionKey: false, strict: 'throw' },
);

const idTaken = (): ConflictError => new ConflictError('An organization with this id already exists', 'id');

export class MongoOrganizationStore implements OrganizationStore {
  private readonly model: Model<OrganizationDoc>;

  constructor(connection: Connection) {
    this.model = connection.model<OrganizationDoc>('Organization', organizationSchema);
  }

  async init(): Promise<void> {
    await ensureCollection(this.model);
  }

  async insert(org: Organization): Promise<void> {
    await mongoCall(
      () => this.model.create({ _id: org.id, name: org.name, plan: org.plan, disabled: org.disabled, createdAt: org.createdAt }),
      idTaken,
    );
  }

  async plansInUse(): Promise<string[]> {
    const plans = await mongoCall(() => this.model.distinct('plan').exec());
    return (plans as string[]).sort();
  }

  async findById(id: string): Promise<Organization | null> {
    const doc = await mongoCall(() => this.model.findById(id).lean<OrganizationDoc>().exec());
    return doc ? toOrganization(doc) : null;
  }

  async update(id: string, patch: OrganizationPatch): Promise<Organization | null> {
    const set: Partial<OrganizationDoc> = {};
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.plan !== undefined) set.plan = patch.plan;
    if (patch.disabled !== undefined) set.disabled = patch.disabled;
    const doc = await mongoCall(() =>
      this.model.findOneAndUpdate({ _id: id }, { $set: set }, { returnDocument: 'after' }).lean<OrganizationDoc>().exec(),
    );
    return doc ? toOrganization(doc) : null;
  }
}

function toOrganization(doc: OrganizationDoc): Organization {
  return { id: doc._id, name: doc.name, plan: doc.plan, disabled: doc.disabled === true, createdAt: new Date(doc.createdAt) };
}
