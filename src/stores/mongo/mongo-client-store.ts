import { Schema, type Connection, type Model } from 'mongoose';
import { CLIENT_TYPES, type ClientType, type OAuthClient } from '../../domain/oauth.ts';
import { ConflictError } from '../../errors/index.ts';
import type { ClientPatch, ClientStore } from '../../ports.ts';
import { ferretQueueFor, type KeyedQueue } from './ferret-write-queue.ts';
import { mongoCall } from './mongo-errors.ts';
import { ensureCollection } from './ensure-collection.ts';

interface ClientDoc {
  _id: string;
  name: string;
  type: ClientType;
  secretHash: string;
  redirectUris: string[];
  scopes: string[];
  disabled: boolean;
  orgId: string | null;
  createdAt: Date;
}

const clientSchema = new Schema<ClientDoc>(
  {
    _id: { type: String, required: true },
    name: { type: String, required: true },
    type: { type: String, required: true, enum: [...CLIENT_TYPES] },
    secretHash: { type: String, required: true },
    redirectUris: { type: [String], default: [] },
    scopes: { type: [String], default: [] },
    disabled: { type: Boolean, default: false },
    orgId: { type: String, default: null },
    createdAt: { type: Date, required: true },
  },
  { collection: 'oauth_clients', versionKey: false, strict: 'throw' },
);
// No secondary index: clients are few (registered by operators), and list() reads them all.

const idTaken = (): ConflictError => new ConflictError('An OAuth client with this id already exists', 'id');

export class MongoClientStore implements ClientStore {
  private readonly connection: Connection;
  private readonly model: Model<ClientDoc>;
  /**
   * Set by init() on FerretDB only: its updates rewrite the whole document non-atomically, so two
   * concurrent updates (a secret rotation and a disabling) could lose one; they are queued.
   */
  private queue: KeyedQueue | null = null;

  constructor(connection: Connection) {
    this.connection = connection;
    this.model = connection.model<ClientDoc>('OAuthClient', clientSchema);
  }

  async init(): Promise<void> {
    await ensureCollection(this.model);
    this.queue = await ferretQueueFor(this.connection);
  }

  async insert(client: OAuthClient): Promise<void> {
    // The id is the only unique field: a duplicate is always the id.
    await mongoCall(() => this.model.create(toDoc(client)), idTaken);
  }

  async findById(id: string): Promise<OAuthClient | null> {
    const doc = await mongoCall(() => this.model.findById(id).lean<ClientDoc>().exec());
    return doc ? toClient(doc) : null;
  }

  async update(id: string, patch: ClientPatch): Promise<OAuthClient | null> {
    const set = toSet(patch);
    const write = () =>
      mongoCall(() =>
        Object.keys(set).length === 0
          ? this.model.findById(id).lean<ClientDoc>().exec()
          : this.model.findOneAndUpdate({ _id: id }, { $set: set }, { returnDocument: 'after' }).lean<ClientDoc>().exec(),
      );
    const doc = await (this.queue ? this.queue.run(`oauth_client:${id}`, write) : write());
    return doc ? toClient(doc) : null;
  }

  async list(): Promise<OAuthClient[]> {
    const docs = await mongoCall(() => this.model.find({}).sort({ createdAt: 1, _id: 1 }).lean<ClientDoc[]>().exec());
    return docs.map(toClient);
  }
}

function toSet(patch: ClientPatch): Partial<ClientDoc> {
  const set: Partial<ClientDoc> = {};
  if (patch.name !== undefined) set.name = patch.name;
  if (patch.secretHash !== undefined) set.secretHash = patch.secretHash;
  if (patch.redirectUris !== undefined) set.redirectUris = [...patch.redirectUris];
  if (patch.scopes !== undefined) set.scopes = [...patch.scopes];
  if (patch.disabled !== undefined) set.disabled = patch.disabled;
  return set;
}

function toDoc(client: OAuthClient): ClientDoc {
  return {
    _id: client.id,
    name: client.name,
    type: client.type,
    secretHash: client.secretHash,
    redirectUris: [...client.redirectUris],
    scopes: [...client.scopes],
    disabled: client.disabled,
    orgId: client.orgId,
    createdAt: client.createdAt,
  };
}

function toClient(doc: ClientDoc): OAuthClient {
  return {
    id: doc._id,
    name: doc.name,
    type: doc.type,
    secretHash: doc.secretHash,
    redirectUris: [...(doc.redirectUris ?? [])],
    scopes: [...(doc.scopes ?? [])],
    disabled: doc.disabled === true,
    orgId: doc.orgId ?? null,
    createdAt: new Date(doc.createdAt),
  };
}
