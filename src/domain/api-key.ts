import type { Role } from './accounts.ts';
import type { KeyEnv } from './api-key-format.ts';

import type { CredentialLimits } from './limits.ts';

/** A key's own limits (domain/limits.ts): null fields fall back to its organization's plan. */
export type KeyLimits = CredentialLimits;
export { NO_LIMITS } from './limits.ts';

/** An API key as stored: never the key itself, only its SHA-256. */
export interface ApiKey {
  id: string;
  orgId: string;
  /** The user the key acts for (its creator). */
  userId: string;
  name: string | null;
  scopes: string[];
  env: KeyEnv;
  /** Hex SHA-256 of the whole key; the lookup index. */
  hash: string;
  /** Prefix + first 4 body characters, for telling keys apart; null for keys imported by hash. */
  start: string | null;
  active: boolean;
  /**
   * The role of whoever disabled the key (null while enabled): only that role or one above may
   * enable it again, so that an editor cannot undo what an owner decided.
   */
  disabledByRole: Role | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  /**
   * Where its last recorded use came from: the client address of a request to Tessera's own API,
   * or `via <resource server>` for a bearer verified or introspected by one (which knows the
   * address; Tessera does not). As coarse as lastUsedAt.
   */
  lastUsedFrom: string | null;
  expiresAt: Date | null;
  /** Set when deleted (or rotated without grace): refused forever, hidden from lists. */
  revokedAt: Date | null;
  limits: KeyLimits;
  /** The key this one replaced by rotation, and the one that replaced it. */
  rotatedFrom: string | null;
  rotatedTo: string | null;
}

export type KeyState = 'usable' | 'disabled' | 'expired' | 'revoked';

/**
 * A key as authentication reads it: everything but its last use, which is kept apart (written on
 * the request path, from every instance) and costs a second read that authentication never needs.
 */
export type ApiKeyRecord = Omit<ApiKey, 'lastUsedAt' | 'lastUsedFrom'>;

export function keyState(key: ApiKeyRecord, now: Date): KeyState {
  if (key.revokedAt !== null) return 'revoked';
  if (!key.active) return 'disabled';
  if (key.expiresAt !== null && key.expiresAt.getTime() <= now.getTime()) return 'expired';
  return 'usable';
}
