/**
 * Why a bearer is refused, and the kinds of bearer: the closed sets the errors (BearerRefusedError)
 * and the product profiles (src/domain/profile.ts, config/profiles/) share.
 */
export const FAILURE_REASONS = [
  'missing',
  'malformed',
  'unknown',
  'expired',
  'revoked',
  'disabled_key',
  'disabled_user',
  'not_a_member',
  'disabled_organization',
  'disabled_client',
  'insufficient_scope',
  'rate_limited',
  'usage_exceeded',
  'balance_exhausted',
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

export const BEARER_KINDS = ['api_key', 'oauth'] as const;
/** The two kinds of bearer a product's API sees (a document may treat them differently). */
export type BearerKind = (typeof BEARER_KINDS)[number];

