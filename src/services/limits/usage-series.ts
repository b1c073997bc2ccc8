import { utcDay } from '../../domain/limits.ts';
import { ValidationError } from '../../errors/index.ts';
import type { Clock, DailyUsage, MeteredCredential, MeteringStore } from '../../ports.ts';
import type { UsageMeter } from './usage-meter.ts';

/** The longest range a series may span. */
export const MAX_SERIES_DAYS = 366;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * A credential's usage per UTC day from `from` to `to` (YYYY-MM-DD, inclusive; the last 30 days
 * by default): every day of the range, with zeros where nothing was used — the data a chart
 * plots. What this instance counted and has not written yet is included.
 */
export async function dailySeries(
  deps: { metering: MeteringStore; meter: UsageMeter; clock: Clock },
  credential: MeteredCredential,
  range: { from?: string; to?: string },
): Promise<DailyUsage[]> {
  const today = utcDay(deps.clock.now().getTime());
  const to = range.to ?? today;
  const from = range.from ?? shift(to, -29);
  for (const [field, value] of [['from', from], ['to', to]] as const) {
    if (!DAY.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) throw new ValidationError(field, `${field} must be a date, YYYY-MM-DD (UTC)`);
  }
  const days = Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000) + 1;
  if (days < 1) throw new ValidationError('to', 'to must not be before from');
  if (days > MAX_SERIES_DAYS) throw new ValidationError('from', `a series spans at most ${MAX_SERIES_DAYS} days`);
  const stored = new Map((await deps.metering.series(credential, from, to)).map((d) => [d.day, d]));
  return Array.from({ length: days }, (_, i) => {
    const day = shift(from, i);
    const pending = deps.meter.pendingFor(credential, day);
    const written = stored.get(day);
    return { day, requests: (written?.requests ?? 0) + pending.requests, credits: (written?.credits ?? 0) + pending.credits };
  });
}

function shift(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}
