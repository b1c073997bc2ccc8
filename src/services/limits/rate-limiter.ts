import type { Principal } from '../../domain/principal.ts';
import type { Clock } from '../../ports.ts';
import type { WindowCounter } from './window-counter.ts';

export interface RateLimitState {
  limit: number;
  remaining: number;
  resetAtEpochSeconds: number;
  exceeded: boolean;
  retryAfterSeconds: number;
}

const WINDOW_MS = 60_000;

/**
 * Per-bearer requests per minute (FlowMind's and Flowy's contract): counted across instances,
 * reported in X-RateLimit-Limit / -Remaining / -Reset, 429 with Retry-After over the limit.
 */
export class RateLimiter {
  private readonly counter: WindowCounter;
  private readonly clock: Clock;

  constructor(counter: WindowCounter, clock: Clock) {
    this.counter = counter;
    this.clock = clock;
  }

  /** Null when the bearer has no limit. */
  async check(principal: Principal): Promise<RateLimitState | null> {
    const limit = principal.rateLimitPerMinute;
    if (limit === null) return null;
    const id = principal.kind === 'api_key' ? principal.keyId : principal.grantId;
    const { count, resetInMs } = await this.counter.hit(`rate:${principal.kind}:${id}`, WINDOW_MS);
    const retryAfterSeconds = Math.max(1, Math.ceil(resetInMs / 1000));
    return {
      limit,
      remaining: Math.max(0, limit - count),
      resetAtEpochSeconds: Math.ceil((this.clock.now().getTime() + resetInMs) / 1000),
      exceeded: count > limit,
      retryAfterSeconds,
    };
  }
}
