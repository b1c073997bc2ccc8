import type { Credential } from './principal.ts';

export const AUDIT_ACTIONS = [
  'api_key.created',
  'api_key.updated',
  'api_key.rotated',
  'api_key.revoked',
  'connected_app.created',
  'connected_app.updated',
  'connected_app.revoked',
  'organization.credited',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEvent {
  id: string;
  orgId: string;
  action: AuditAction;
  /** Who did it (null for operator commands that act for nobody in particular). */
  actorUserId: string | null;
  /** With which credential. */
  credential: Credential;
  targetType: 'api_key' | 'connected_app' | 'organization';
  targetId: string;
  /** What changed, by field name; never a secret. */
  details: Record<string, unknown>;
  at: Date;
}
