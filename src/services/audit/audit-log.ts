import type { AuditAction, AuditEvent } from '../../domain/audit.ts';
import { newId } from '../../domain/ids.ts';
import type { Actor, Credential } from '../../domain/principal.ts';
import { ForbiddenError, ValidationError } from '../../errors/index.ts';
import { roleAtLeast } from '../../domain/accounts.ts';
import { requireScope } from '../../domain/permissions.ts';
import type { AuditFilter, AuditStore, Clock } from '../../ports.ts';

export interface AuditPage {
  events: AuditEvent[];
  /** Opaque position after the last event; null on the last page. */
  nextCursor: string | null;
}

export const AUDIT_PAGE_MAX = 100;

/** Who did what to which key, when, with which credential: written with every key change. */
export class AuditLog {
  private readonly store: AuditStore;
  private readonly clock: Clock;

  constructor(store: AuditStore, clock: Clock) {
    this.store = store;
    this.clock = clock;
  }

  /** `who`: the acting member, or only a credential when no member acted (a client, the CLI). */
  async record(who: Actor | { credential: Credential } | null, orgId: string, action: AuditAction, targetId: string, details: Record<string, unknown> = {}): Promise<void> {
    await this.store.insert({
      id: newId('evt'),
      orgId,
      action,
      actorUserId: who && 'userId' in who ? who.userId : null,
      credential: who?.credential ?? { kind: 'cli' },
      targetType: action.startsWith('connected_app.') ? 'connected_app' : action.startsWith('organization.') ? 'organization' : 'api_key',
      targetId,
      details,
      at: this.clock.now(),
    });
  }

  /** The actor's organization's events (those matching `filter`), newest first, for owners and admins; `cursor` from the previous page. */
  async list(actor: Actor, limit: number, cursor?: string, filter: AuditFilter = {}): Promise<AuditPage> {
    if (!roleAtLeast(actor.role, 'admin')) throw new ForbiddenError('Only owners and admins can read the audit log');
    requireScope(actor, 'audit:read');
    return this.page(actor.orgId, limit, cursor, filter);
  }

  /**
   * One record's events, newest first, for a caller its owning service has already shown the
   * record to (the key's page shows its history to the key's own user, not only to admins).
   */
  async historyOf(orgId: string, targetId: string, limit: number): Promise<AuditEvent[]> {
    return (await this.page(orgId, limit, undefined, { targetId })).events;
  }

  private async page(orgId: string, limit: number, cursor: string | undefined, filter: AuditFilter): Promise<AuditPage> {
    const before = cursor === undefined ? undefined : decodeCursor(cursor);
    // One extra tells whether another page exists without a second query.
    const events = await this.store.list(orgId, { limit: limit + 1, ...(before ? { before } : {}) }, filter);
    const page = events.slice(0, limit);
    const last = page.at(-1);
    return { events: page, nextCursor: events.length > limit && last ? encodeCursor(last.at, last.id) : null };
  }
}

function encodeCursor(at: Date, id: string): string {
  return Buffer.from(JSON.stringify([at.toISOString(), id])).toString('base64url');
}

function decodeCursor(cursor: string): { at: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as [string, string];
    const date = new Date(at);
    if (typeof id !== 'string' || Number.isNaN(date.getTime())) throw new Error('bad cursor');
    return { at: date, id };
  } catch {
    throw new ValidationError('cursor', 'cursor is not one this API returned');
  }
}
