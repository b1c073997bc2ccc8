import { z } from 'zod';
import { AUDIT_PAGE_MAX } from '../../services/audit/audit-log.ts';

/** GET /api/v1/audit-events: a page size and the cursor of the previous page. */
export const auditQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(AUDIT_PAGE_MAX).optional(),
    cursor: z.string().min(1).max(512).optional(),
  })
  .strict();
