import { Schema, type Connection, type Model, type QueryFilter } from 'mongoose';
import type { AuditAction, AuditEvent } from '../../domain/audit.ts';
import type { Credential } from '../../domain/principal.ts';
import { ConflictError } from '../../errors/index.ts';
import type { AuditCursor, AuditFilter, AuditStore } from '../../ports.ts';
import { mongoCall } from './mongo-errors.ts';
import { ensureCollection } from './ensure-collection.ts';

interface AuditEventDoc {
  _id: string;
  orgId: string;
  action: AuditAction;
  actorUserId: string | null;
  credential: Credential;
  targetType: AuditEvent['targetType'];
  targetId: string;
  details: Record<string, unknown>;
  at: Date;
}

const auditEventSchema = new Schema<AuditEventDoc>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    action: { type: String, required: true },
    actorUserId: { type: String, default: null },
    // Free-form: a union of shapes (credential) and whatever changed (details), stored as given.
    credential: { type: Schema.Types.Mixed, required: true },
    details: { type: Schema.Types.Mixed, default: () => ({}) },
    targetType: { type: String, required: true },
    targetId: { type: String, required: true },
    at: { type: Date, required: true },
  },
  // minimize: false keeps `details: {}` (an event that changed nothing nameable) as it was given.
  { collection: 'audit_events', versionKey: false, strict: 'throw', minimize: false },
);
// An organization's log, newest first, and the cursor's (at, _id) tie-break in the same index.
auditEventSchema.index({ orgId: 1, at: -1, _id: -1 }, { name: 'orgId_1_at_-1__id_-1' });
// A key's or an app's own history (its page in the console).
auditEventSchema.index({ orgId: 1, targetId: 1, at: -1 }, { name: 'orgId_1_targetId_1_at_-1' });

export class MongoAuditStore implements AuditStore {
  private readonly model: Model<AuditEventDoc>;

  constructor(connection: Connection) {
    this.model = connection.model<AuditEventDoc>('AuditEvent', auditEventSchema);
  }

  async init(): Promise<void> {
    await ensureCollection(this.model);
  }

  async insert(event: AuditEvent): Promise<void> {
    await mongoCall(
      () =>
        this.model.create({
          _id: event.id,
          orgId: event.orgId,
          action: event.action,
          actorUserId: event.actorUserId,
          credential: structuredClone(event.credential),
          targetType: event.targetType,
          targetId: event.targetId,
          details: structuredClone(event.details),
          at: event.at,
        }),
      () => new ConflictError('An audit event with this id already exists', 'id'),
    );
  }

  async list(orgId: string, page: { limit: number; before?: AuditCursor }, filter: AuditFilter = {}): Promise<AuditEvent[]> {
    // limit(0) means "no limit" to MongoDB: an empty page must stay empty.
    if (page.limit <= 0) return [];
    const query: QueryFilter<AuditEventDoc> = { orgId };
    if (filter.actorUserId !== undefined) query.actorUserId = filter.actorUserId;
    if (filter.credentialKind !== undefined) (query as Record<string, unknown>)['credential.kind'] = filter.credentialKind;
    if (filter.action !== undefined) query.action = filter.action;
    if (filter.targetId !== undefined) query.targetId = filter.targetId;
    const { before } = page;
    if (before !== undefined) {
      // Strictly after the cursor in (at desc, _id desc) order.
      query.$or = [{ at: { $lt: before.at } }, { at: before.at, _id: { $lt: before.id } }];
    }
    const docs = await mongoCall(() =>
      this.model.find(query).sort({ at: -1, _id: -1 }).limit(page.limit).lean<AuditEventDoc[]>().exec(),
    );
    return docs.map(toEvent);
  }
}

function toEvent(doc: AuditEventDoc): AuditEvent {
  return {
    id: doc._id,
    orgId: doc.orgId,
    action: doc.action,
    actorUserId: doc.actorUserId ?? null,
    credential: doc.credential,
    targetType: doc.targetType,
    targetId: doc.targetId,
    details: doc.details ?? {},
    at: new Date(doc.at),
  };
}
