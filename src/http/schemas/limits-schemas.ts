import { z } from 'zod';
import { MAX_LIMIT, type CredentialLimits } from '../../domain/limits.ts';

const limit = z.number({ message: 'must be a whole number or null' }).int('must be a whole number').min(1, 'must be at least 1').max(MAX_LIMIT, `must be at most ${MAX_LIMIT}`).nullable().optional();

/** A credential's own limits in a request body: each null (the plan's applies) or a whole number. */
export const limitsBody = z
  .object({
    rate_limit_per_minute: limit,
    rate_limit_per_day: limit,
    daily_spend_cap: z.number({ message: 'must be a whole number of credits or null' }).int('must be a whole number of credits').min(0, 'must not be negative').max(MAX_LIMIT, `must be at most ${MAX_LIMIT}`).nullable().optional(),
  })
  .strict();

/** snake_case limits of a request to the services' camelCase, leaving absent ones absent. */
export function limitsInput(input: z.infer<typeof limitsBody> | undefined): Partial<CredentialLimits> | undefined {
  if (input === undefined) return undefined;
  return {
    ...(input.rate_limit_per_minute !== undefined ? { rateLimitPerMinute: input.rate_limit_per_minute } : {}),
    ...(input.rate_limit_per_day !== undefined ? { rateLimitPerDay: input.rate_limit_per_day } : {}),
    ...(input.daily_spend_cap !== undefined ? { dailySpendCap: input.daily_spend_cap } : {}),
  };
}

/** How the API shows a credential's own limits. */
export function presentLimits(limits: CredentialLimits): Record<string, number | null> {
  return { rate_limit_per_minute: limits.rateLimitPerMinute, rate_limit_per_day: limits.rateLimitPerDay, daily_spend_cap: limits.dailySpendCap };
}

/** ?from=&to= of a usage series (YYYY-MM-DD, UTC; checked by the service). */
export const usageQuery = z.object({ from: z.string().max(10).optional(), to: z.string().max(10).optional() }).strict();
