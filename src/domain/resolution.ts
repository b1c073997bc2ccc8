import type { Principal } from './principal.ts';
import type { BearerKind } from '../errors/failure-reasons.ts';

/** Why a bearer is not usable; what a caller is told of it is the profile's (config/profiles/). */
export type InactiveReason =
  | 'missing'
  | 'malformed'
  | 'bad-checksum'
  | 'unknown'
  | 'revoked'
  | 'disabled'
  | 'expired'
  | 'user-disabled'
  | 'not-a-member'
  | 'grant-revoked';

/**
 * Who a bearer is, or why it is not usable: the outcome of every lookup, a value and never an
 * exception. `readAt` (ms since the epoch): when the oldest record behind the answer was read from
 * the store of record — earlier than the resolution itself when a shared record was reused.
 * Caches trust the answer from then.
 */
export type Resolution =
  | { status: 'active'; principal: Principal; readAt?: number }
  /**
   * `orgId`: the organization the bearer belonged to, where the lookup got that far — so that a
   * resource server bound to another organization is told nothing more than "not found".
   */
  | { status: 'inactive'; reason: InactiveReason; orgId?: string; kind?: BearerKind }
  /** The bearer is valid but may not act: its organization or its OAuth client is disabled. */
  | { status: 'forbidden'; principal: Principal; reason: ForbiddenReason; readAt?: number };

export type ForbiddenReason = 'disabled_organization' | 'disabled_client';

/** `kind`: what the bearer was found to be (an API key, an OAuth token), where the lookup got that far. */
export function inactive(reason: InactiveReason, orgId?: string, kind?: BearerKind): Resolution {
  return { status: 'inactive', reason, ...(orgId === undefined ? {} : { orgId }), ...(kind === undefined ? {} : { kind }) };
}

/** The organization a resolution is known to belong to, if any. */
export function resolutionOrg(resolution: Resolution): string | undefined {
  return resolution.status === 'inactive' ? resolution.orgId : resolution.principal.orgId;
}
