/**
 * Limits: how many requests a credential (an API key, a connected app) may make per window, how
 * many credits it may spend per UTC day, and how many an organization's credentials may make
 * together. A credential's own setting wins; else its organization's plan's; else the
 * deployment's default. Null: no limit of that kind.
 */

/** The fixed windows: aligned to the minute, and to the UTC day (00:00 UTC to 00:00 UTC). */
export const WINDOWS = ['minute', 'day'] as const;
export type WindowName = (typeof WINDOWS)[number];

const WINDOW_MS: Record<WindowName, number> = { minute: 60_000, day: 86_400_000 };

/** The most any limit may be: beyond this it is a typo, not a limit. */
export const MAX_LIMIT = 1_000_000_000;

/** What a credential may do, as it is set on it (null: not set there). */
export interface CredentialLimits {
  rateLimitPerMinute: number | null;
  rateLimitPerDay: number | null;
  /** Credits per UTC day; spent by verification's `cost`. */
  dailySpendCap: number | null;
}

export const NO_LIMITS: CredentialLimits = { rateLimitPerMinute: null, rateLimitPerDay: null, dailySpendCap: null };

/** A plan's limits: every credential's default, and the organization's credentials together. */
export interface PlanLimits {
  credential: CredentialLimits;
  organization: { rateLimitPerMinute: number | null; rateLimitPerDay: number | null };
}

/** What applies to a bearer once its own settings, its plan and the deployment default are merged. */
export interface EffectiveLimits {
  credential: CredentialLimits;
  organization: PlanLimits['organization'];
}

/** A credential's own settings over its plan's over the deployment's. */
export function effectiveLimits(own: CredentialLimits, plan: PlanLimits | undefined, deployment: CredentialLimits): EffectiveLimits {
  const pick = (field: keyof CredentialLimits): number | null => own[field] ?? plan?.credential[field] ?? deployment[field];
  return {
    credential: { rateLimitPerMinute: pick('rateLimitPerMinute'), rateLimitPerDay: pick('rateLimitPerDay'), dailySpendCap: pick('dailySpendCap') },
    organization: plan?.organization ?? { rateLimitPerMinute: null, rateLimitPerDay: null },
  };
}

/** The window containing `now` (ms since the epoch): its start and its end. */
export function windowAt(name: WindowName, now: number): { start: number; end: number } {
  const size = WINDOW_MS[name];
  const start = Math.floor(now / size) * size;
  return { start, end: start + size };
}

export function windowSeconds(name: WindowName): number {
  return WINDOW_MS[name] / 1000;
}

/** The UTC day of `now`, as YYYY-MM-DD. */
export function utcDay(now: number): string {
  return new Date(windowAt('day', now).start).toISOString().slice(0, 10);
}

/** Why a limit value cannot be one, or null: whole, at least 1 (0 for a spend cap), at most MAX_LIMIT. */
export function limitProblem(value: number, min = 1): string | null {
  if (!Number.isInteger(value)) return 'must be a whole number';
  if (value < min || value > MAX_LIMIT) return `must be ${min}–${MAX_LIMIT}`;
  return null;
}
