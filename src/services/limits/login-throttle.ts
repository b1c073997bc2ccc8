import { createHash } from 'node:crypto';
import { normalizeEmail } from '../../domain/accounts.ts';
import type { Clock } from '../../ports.ts';
import type { FailureThrottle } from './failure-throttle.ts';
import type { WindowCounter } from './window-counter.ts';

/** Failures an account may have (within ACCOUNT_WINDOW_MS) before each further one costs a wait. */
export const ACCOUNT_FREE_FAILURES = 5;
/** The first wait, doubled with every further failure up to ACCOUNT_MAX_DELAY_MS. */
const ACCOUNT_FIRST_DELAY_MS = 1_000;
export const ACCOUNT_MAX_DELAY_MS = 60_000;
const ACCOUNT_WINDOW_MS = 15 * 60_000;

/**
 * Throttles failed sign-ins two ways:
 * - per client address, as every credential check is (FailureThrottle: a minute's limit, then
 *   every attempt from the address is refused until the minute ends);
 * - per account, against password spraying from many addresses: after ACCOUNT_FREE_FAILURES
 *   failures, every attempt — right password or wrong — waits a delay that doubles with each
 *   further failure, from one second to at most a minute. The wait is short so that nobody can
 *   lock a victim out for long by failing on purpose; attempts refused while waiting count for
 *   nothing. A success ends the account's count. Unknown emails are counted like known ones, so
 *   that the answers tell nobody which accounts exist.
 */
export class LoginThrottle {
  private readonly addresses: FailureThrottle;
  private readonly counter: WindowCounter;
  private readonly clock: Clock;

  constructor(addresses: FailureThrottle, counter: WindowCounter, clock: Clock) {
    this.addresses = addresses;
    this.counter = counter;
    this.clock = clock;
  }

  /** Seconds to wait before this address may try this email again, or null. */
  async blocked(address: string, email: string): Promise<number | null> {
    return this.addresses.blocked(byAddress(address)) ?? this.secondsUntil(await this.counter.heldUntil(heldKey(email)));
  }

  /** Counts a failed sign-in; returns seconds to wait before the next attempt when there is a wait. */
  async failed(address: string, email: string): Promise<number | null> {
    const [fromAddress, { count }] = await Promise.all([this.addresses.failed(byAddress(address)), this.counter.hit(countKey(email), ACCOUNT_WINDOW_MS)]);
    let accountWait: number | null = null;
    if (count >= ACCOUNT_FREE_FAILURES) {
      const delay = Math.min(ACCOUNT_FIRST_DELAY_MS * 2 ** (count - ACCOUNT_FREE_FAILURES), ACCOUNT_MAX_DELAY_MS);
      await this.counter.hold(heldKey(email), this.clock.now().getTime() + delay, delay);
      accountWait = Math.ceil(delay / 1000);
    }
    return fromAddress === null ? accountWait : Math.max(fromAddress, accountWait ?? 0);
  }

  /** A sign-in succeeded: the account starts afresh. */
  async succeeded(email: string): Promise<void> {
    await this.counter.reset(countKey(email));
  }

  private secondsUntil(until: number | null): number | null {
    if (until === null) return null;
    const left = until - this.clock.now().getTime();
    return left > 0 ? Math.ceil(left / 1000) : null;
  }
}

const byAddress = (address: string) => `login:${address}`;
/** Accounts by a digest of the normalized email: no address in Redis keys. */
const account = (email: string) => createHash('sha256').update(normalizeEmail(email)).digest('base64url');
const countKey = (email: string) => `loginfail:${account(email)}`;
const heldKey = (email: string) => `loginwait:${account(email)}`;
