import type { EphemeralStore } from '../../ports.ts';

/**
 * Revocations carried by Redis (docs/architecture.md, The revocation bound): a marker per revoked key (by hash) and per
 * revoked grant, living at least as long as the bearer could otherwise still be used. A lookup
 * that misses the cache checks them before the store of record. They are a shortcut, never the
 * authority: MongoDB holds every revocation, so losing Redis (restart, FLUSHALL) revives nothing,
 * and an unreachable Redis just means asking MongoDB.
 */
export class RevocationMarkers {
  private readonly ephemeral: EphemeralStore;
  /** Longest life of anything issued on a grant (the refresh token chain), in ms. */
  private readonly grantLifetimeMs: number;

  constructor(ephemeral: EphemeralStore, grantLifetimeMs: number) {
    this.ephemeral = ephemeral;
    this.grantLifetimeMs = grantLifetimeMs;
  }

  /** `remainingMs` null: the key never expires, so neither does its marker. */
  async markKey(hash: string, remainingMs: number | null): Promise<void> {
    if (remainingMs !== null && remainingMs <= 0) return;
    await this.ephemeral.set(`revoked:key:${hash}`, '1', remainingMs ?? undefined).catch(() => undefined);
  }

  async markGrant(grantId: string): Promise<void> {
    await this.ephemeral.set(`revoked:grant:${grantId}`, '1', this.grantLifetimeMs).catch(() => undefined);
  }

  /** False when Redis cannot say: the caller then asks the store of record. */
  async isKeyRevoked(hash: string): Promise<boolean> {
    return (await this.ephemeral.get(`revoked:key:${hash}`).catch(() => null)) !== null;
  }

  async isGrantRevoked(grantId: string): Promise<boolean> {
    return (await this.ephemeral.get(`revoked:grant:${grantId}`).catch(() => null)) !== null;
  }
}
