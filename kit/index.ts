/**
 * Tessera's resource-server kit: verify bearers (API keys and OAuth access tokens alike) against
 * their scopes, request limits and spend — or introspect them with a short cache invalidated
 * through Redis — attach the principal, set the rate-limit headers, and refuse as the
 * deployment's product profile says, in its error body. See kit/README.md.
 */
export {
  BEARER_EVENTS_CHANNEL,
  createIntrospector,
  DEFAULT_CACHE_TTL_MS,
  DEFAULT_DEGRADED_TTL_MS,
  DEFAULT_NEGATIVE_TTL_MS,
  DEFAULT_REDIS_PREFIX,
  hashToken,
  KitUnavailableError,
  type Introspector,
  type IntrospectorOptions,
  type IntrospectorStatus,
  type KitUnavailableReason,
} from './introspection-client.ts';
export { parseScope, type Principal } from './principal.ts';
export {
  checkCost,
  createVerifier,
  DEFAULT_VERIFY_NEGATIVE_TTL_MS,
  MAX_COST,
  reasonOfCode,
  verificationFrom,
  type RateLimitState,
  type SpendState,
  type Verification,
  type Verifier,
  type VerifierOptions,
  type VerifierStatus,
  type VerifyRequest,
} from './verify-client.ts';
export { VERIFY_CODES, type VerifyCode } from '../src/domain/verification.ts';
export {
  BEARER_KINDS,
  errorBody,
  FAILURE_REASONS,
  type BearerKind,
  type ErrorProfile,
  type FailureReason,
  type MessageField,
  type PublicProfile,
  type RefusalRule,
} from '../src/domain/profile.ts';
export { defaultProfile, PROFILE_DOCUMENT_PATH, profileFromFile, readPublicProfile, type ProfileOptions } from './profile-source.ts';
export { rateLimitHeaders, type RateLimitWindow } from '../src/domain/rate-limit-headers.ts';
export { parseBearerEvent, type BearerEvent } from './principal-cache.ts';
export {
  bearerOf,
  costOf,
  decide,
  decision,
  missingScopes,
  refusal,
  UNAVAILABLE_MESSAGE,
  unavailable,
  type BearerAuthority,
  type BearerIntrospector,
  type BearerVerifier,
  type Cost,
  type Decision,
  type Refusal,
  type RequestNeeds,
} from './bearer.ts';
export { principalOf, requireBearer, requireScopes, type BearerState, type RequireBearerOptions } from './koa.ts';
export { requireBearerNode, requireScopesNode, sendRefusal, withBearer, type BearerRequest, type NextFunction, type NodeBearerOptions } from './node.ts';
