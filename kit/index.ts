/**
 * Tessera's resource-server kit: introspect bearers (API keys and OAuth access tokens alike) with
 * a short cache invalidated through Redis, attach the principal, enforce scopes, and refuse with
 * Tessera's error body. See kit/README.md.
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
export { parseBearerEvent, type BearerEvent } from './principal-cache.ts';
export {
  bearerOf,
  decide,
  forbidden,
  missingScopes,
  unauthorized,
  unavailable,
  UNAUTHORIZED_MESSAGE,
  type BearerIntrospector,
  type Decision,
  type ErrorBody,
  type KitErrorCode,
  type Refusal,
} from './bearer.ts';
export { principalOf, requireBearer, requireScopes, type BearerState, type RequireBearerOptions } from './koa.ts';
export { requireBearerNode, requireScopesNode, sendRefusal, withBearer, type BearerRequest, type NextFunction, type NodeBearerOptions } from './node.ts';
