import type { ApiKey } from '../domain/api-key.ts';
import type { DailyUsage } from '../ports.ts';
import { presentLimits } from './schemas/limits-schemas.ts';
import type { AuditEvent } from '../domain/audit.ts';
import type { Principal } from '../domain/principal.ts';

/** An API key as the API shows it: metadata only — never the key, never its hash. */
export function presentKey(key: ApiKey): Record<string, unknown> {
  return {
    id: key.id,
    name: key.name,
    start: key.start,
    scopes: key.scopes,
    env: key.env,
    active: key.active,
    createdAt: key.createdAt.toISOString(),
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
    lastUsedFrom: key.lastUsedFrom,
    expiresAt: key.expiresAt?.toISOString() ?? null,
    limits: presentLimits(key.limits),
    userId: key.userId,
    rotatedFrom: key.rotatedFrom,
  };
}

/** The creation response: the only one that ever contains the key. */
export function presentIssuedKey(key: ApiKey, secret: string): Record<string, unknown> {
  const { id, name, ...rest } = presentKey(key);
  return { id, name, key: secret, ...rest };
}

/** GET /api/v1/me: `id` is the user id (Minds' contract), with the rest of the principal. */
export function presentMe(principal: Principal): Record<string, unknown> {
  return {
    id: principal.userId,
    org_id: principal.orgId,
    scopes: principal.scopes,
    kind: principal.kind,
    ...(principal.kind === 'api_key' ? { key_id: principal.keyId, env: principal.env } : { client_id: principal.clientId, grant_id: principal.grantId }),
  };
}

export function presentAuditEvent(event: AuditEvent): Record<string, unknown> {
  return {
    id: event.id,
    action: event.action,
    actor: { user_id: event.actorUserId, credential: event.credential },
    target: { type: event.targetType, id: event.targetId },
    details: event.details,
    at: event.at.toISOString(),
  };
}

/** A usage series: `{data: [{date, requests, credits}]}`, a UTC day each, oldest first. */
export function presentUsage(days: DailyUsage[]): Record<string, unknown> {
  return { data: days.map((d) => ({ date: d.day, requests: d.requests, credits: d.credits })) };
}
