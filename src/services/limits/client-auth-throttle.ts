import type { FailureThrottle } from './failure-throttle.ts';

/**
 * Failed client authentications (RFC 6749 §2.3.1; §10.10: secrets must not be guessable online)
 * at every endpoint that checks a client secret — token, revocation, introspection — counted per
 * client address and per client_id:
 * - an address that fails too often is refused, right secret or wrong, until its window ends;
 * - a client_id that has failed too often, from anywhere, leaves each failing address one try:
 *   guessing from many addresses is slowed to one guess per address and window, while the right
 *   secret from an address that has not failed is never refused (no one can lock a client out).
 */
export class ClientAuthThrottle {
  private readonly throttle: FailureThrottle;

  constructor(throttle: FailureThrottle) {
    this.throttle = throttle;
  }

  /** Seconds to wait when this address, or this address for this client, is throttled; else null. */
  blocked(address: string, clientId: string | null): number | null {
    return this.throttle.blocked(byAddress(address)) ?? (clientId === null ? null : this.throttle.blocked(byClientAt(clientId, address)));
  }

  /** Counts a failed authentication as `clientId` (as claimed; null when none was) from `address`. */
  async failed(address: string, clientId: string | null): Promise<void> {
    await Promise.all([this.throttle.failed(byAddress(address)), clientId === null ? null : this.throttle.failed(`clientid:${clientId}`, byClientAt(clientId, address))]);
  }
}

const byAddress = (address: string) => `client:${address}`;
const byClientAt = (clientId: string, address: string) => `clientid:${clientId}@${address}`;
