import type { Clock } from '../../ports.ts';
import type { WindowCounter } from './window-counter.ts';

const WINDOW_MS = 60_000;
const MAX_TRACKED = 100_000;

/**
 * Throttles failed authentications per client address so that keys and client secrets cannot be
 * guessed: after `limitPerMinute` failures, the address's attempts are refused until the window
 * ends — every attempt where the caller says so (login, client secrets), failing ones only for
 * bearers (services/authentication/authenticator.ts). Failures are counted across instances (Redis; per instance while
 * Redis is away). Whether an address is blocked is answered from memory, so a legitimate caller
 * pays no round trip: an instance learns of a block at the address's first failure on it, so a
 * guesser gets at most one more try per instance.
 */
export class FailureThrottle {
  private readonly counter: WindowCounter;
  private readonly limitPerMinute: number;
  private readonly clock: Clock;
  private readonly blockedUntil = new Map<string, number>();

  constructor(counter: WindowCounter, limitPerMinute: number, clock: Clock) {
    this.counter = counter;
    this.limitPerMinute = limitPerMinute;
    this.clock = clock;
  }

  /** Seconds to wait when the address is throttled, else null. */
  blocked(address: string): number | null {
    if (this.blockedUntil.size === 0) return null; // nearly always: nothing to look up
    const until = this.blockedUntil.get(address);
    if (until === undefined) return null;
    const left = until - this.clock.now().getTime();
    if (left > 0) return Math.max(1, Math.ceil(left / 1000));
    this.blockedUntil.delete(address);
    return null;
  }

  /**
   * Counts a failure under `address`. At the limit, `blocks` (the address itself unless told
   * otherwise) is blocked for the rest of the window; returns seconds to wait when this failure
   * was already beyond the limit, else null.
   */
  async failed(address: string, blocks: string = address): Promise<number | null> {
    const { count, resetInMs } = await this.counter.hit(`authfail:${address}`, WINDOW_MS);
    if (count < this.limitPerMinute) return null;
    if (this.blockedUntil.size >= MAX_TRACKED) this.blockedUntil.clear();
    this.blockedUntil.set(blocks, this.clock.now().getTime() + resetInMs);
    return count > this.limitPerMinute ? Math.max(1, Math.ceil(resetInMs / 1000)) : null;
  }
}
