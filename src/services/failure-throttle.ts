import type { WindowCounter } from './window-counter.ts';

const WINDOW_MS = 60_000;

/**
 * Throttles failed authentications per client address so that keys cannot be guessed: after
 * `limitPerMinute` failures, every attempt from that address — right or wrong — is refused until
 * the window ends. Counted across instances (Redis), per instance while Redis is away.
 */
export class FailureThrottle {
  private readonly counter: WindowCounter;
  private readonly limitPerMinute: number;

  constructor(counter: WindowCounter, limitPerMinute: number) {
    this.counter = counter;
    this.limitPerMinute = limitPerMinute;
  }

  /** Seconds to wait when the address is throttled, else null. */
  async blocked(address: string): Promise<number | null> {
    const count = await this.counter.peek(keyFor(address));
    return count >= this.limitPerMinute ? WINDOW_MS / 1000 : null;
  }

  /** Counts a failure; returns seconds to wait when this failure crossed the limit, else null. */
  async failed(address: string): Promise<number | null> {
    const { count, resetInMs } = await this.counter.hit(keyFor(address), WINDOW_MS);
    return count > this.limitPerMinute ? Math.max(1, Math.ceil(resetInMs / 1000)) : null;
  }
}

function keyFor(address: string): string {
  return `authfail:${address}`;
}
