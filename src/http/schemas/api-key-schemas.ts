import { z } from 'zod';
import { KEY_ENVS } from '../../domain/api-key-format.ts';
import { SCOPE_PATTERN } from '../../domain/scopes.ts';
import { MAX_ROTATION_GRACE_SECONDS } from '../../services/keys/api-key-service.ts';
import { displayTextSchema } from '../../domain/display-text.ts';
import { limitsBody } from './limits-schemas.ts';

/** Trimmed 1–100 characters; empty (or only spaces) and null mean "no name" (Minds' contract). */
const name = displayTextSchema({ max: 100 }).nullable();

const scopes = z.array(z.string({ message: 'must be a list of scope strings' }).regex(SCOPE_PATTERN, 'must be a list of scope strings'), {
  message: 'must be a list of scope strings',
}).max(100);

const futureTime = z.iso
  .datetime({ offset: true, message: 'must be an ISO 8601 date-time, e.g. 2027-01-31T00:00:00Z' })
  .transform((v) => new Date(v))
  .nullable();

export const createKeyBody = z
  .object({
    name: name.optional(),
    scopes: scopes.optional(),
    env: z.enum(KEY_ENVS, { message: `must be one of ${KEY_ENVS.join(', ')}` }).optional(),
    expires_at: futureTime.optional(),
    limits: limitsBody.optional(),
  })
  .strict();

export const updateKeyBody = z
  .object({
    name: name.optional(),
    scopes: scopes.optional(),
    active: z.boolean({ message: 'must be true or false' }).optional(),
    expires_at: futureTime.optional(),
    limits: limitsBody.optional(),
  })
  .strict();

export const rotateKeyBody = z
  .object({
    grace_period_seconds: z.number().int('must be a whole number').min(0).max(MAX_ROTATION_GRACE_SECONDS).optional(),
    expires_at: futureTime.optional(),
  })
  .strict();
