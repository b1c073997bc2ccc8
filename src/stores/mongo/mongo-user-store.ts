import { Schema, type Connection, type Model } from 'mongoose';
import { normalizeEmail, type User } from '../../domain/accounts.ts';
import { ConflictError } from '../../errors/index.ts';
import type { UserPatch, UserStore } from '../../ports.ts';
import { ensureCollection } from './ensure-collection.ts';
import { mongoCall } from './mongo-errors.ts';

interface UserDoc {
  _id: string;
  email: string;
  /** Lower-cased email: the unique index that makes emails case-insensitively unique. */
  emailNormalized: string;
  name: string | null;
  passwordHash: string | null;
  disabled: boolean;
  createdAt: Date;
}

const userSchema = new Schema<UserDoc>(
  {
    _id: { type: String, required: true },
    email: { type: String, required: true },
    emailNormalized: { type: String, required: true },
    name: { type: String, default: null },
    passwordHash: { type: String, default: null },
    disabled: { type: Boolean, default: false },
    createdAt: { type: Date, required: true },
  },
  { collection: 'users', versionKey: false, strict: 'throw' },
);
userSchema.index({ emailNormalized: 1 }, { unique: true, name: 'emailNormalized_1' });

const emailTaken = (): ConflictError => new ConflictError('A user with this email already exists', 'email');

export class MongoUserStore implements UserStore {
  private readonly model: Model<UserDoc>;

  constructor(connection: Connection) {
    this.model = connection.model<UserDoc>('User', userSchema);
  }

  async init(): Promise<void> {
    await ensureCollection(this.model);
  }

  async insert(user: User): Promise<void> {
    await mongoCall(
      () => this.model.create(toDoc(user)),
      // Which unique index refused it: the id (primary key) or the email.
      async () => ((await this.model.exists({ _id: user.id })) ? new ConflictError('A user with this id already exists', 'id') : emailTaken()),
    );
  }

  async findById(id: string): Promise<User | null> {
    const doc = await mongoCall(() => this.model.findById(id).lean<UserDoc>().exec());
    return doc ? toUser(doc) : null;
  }

  async findByEmail(email: string): Promise<User | null> {
    const doc = await mongoCall(() => this.model.findOne({ emailNormalized: normalizeEmail(email) }).lean<UserDoc>().exec());
    return doc ? toUser(doc) : null;
  }

  async update(id: string, patch: UserPatch): Promise<User | null> {
    const set: Partial<UserDoc> = {};
    if (patch.email !== undefined) {
      set.email = patch.email;
      set.emailNormalized = normalizeEmail(patch.email);
    }
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.passwordHash !== undefined) set.passwordHash = patch.passwordHash;
    if (patch.disabled !== undefined) set.disabled = patch.disabled;
    const doc = await mongoCall(
      () => this.model.findOneAndUpdate({ _id: id }, { $set: set }, { returnDocument: 'after' }).lean<UserDoc>().exec(),
      emailTaken, // the only unique field an update can touch
    );
    return doc ? toUser(doc) : null;
  }
}

function toDoc(user: User): UserDoc {
  return {
    _id: user.id,
    email: user.email,
    emailNormalized: normalizeEmail(user.email),
    name: user.name,
    passwordHash: user.passwordHash,
    disabled: user.disabled,
    createdAt: user.createdAt,
  };
}

function toUser(doc: UserDoc): User {
  return {
    id: doc._id,
    email: doc.email,
    name: doc.name ?? null,
    passwordHash: doc.passwordHash ?? null,
    disabled: doc.disabled === true,
    createdAt: new Date(doc.createdAt),
  };
}

