import { z } from 'zod';
import { AUDIT_ACTIONS } from '../../domain/audit.ts';
import { CREDENTIAL_KINDS } from '../../domain/principal.ts';
import type { AuditFilter } from '../../ports.ts';
import { AUDIT_PAGE_MAX } from '../../services/audit/audit-log.ts';

/** The audit log's filters, as the API's query and the console's form both take them. */
export const auditFilterFields = {
  actor: z.string().min(1).max(128).optional(),
  credential: z.enum(CREDENTIAL_KINDS, { message: `must be one of ${CREDENTIAL_KINDS.join(', ')}` }).optional(),
  action: z.enum(AUDIT_ACTIONS, { message: `must be one of ${AUDIT_ACTIONS.join(', ')}` }).optional(),
};

export function auditFilterOf(query: { actor?: string | undefined; credential?: AuditFilter['credentialKind'] | undefined; action?: AuditFilter['action'] | undefined }): AuditFilter {
  return {
    ...(query.actor !== undefined ? { actorUserId: query.actor } : {}),
    ...(query.credential !== undefined ? { credentialKind: query.credential } : {}),
    ...(query.action !== undefined ? { action: query.action } : {}),
  };
}

/** GET /api/v1/audit-events: a page size, the cursor of the previous page, and filters. */
export const auditQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(AUDIT_PAGE_MAX).optional(),
    cursor: z.string().min(1).max(512).optional(),
    ...auditFilterFields,
  })
  .strict();
