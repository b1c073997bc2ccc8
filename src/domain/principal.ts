import type { Role } from './accounts.ts';
import type { KeyEnv } from './api-key-format.ts';
import type { EffectiveLimits } from './limits.ts';

/**
 * Who a bearer is: `{user, org, scopes}` whichever kind of bearer it is, and what only that kind
 * has — a key's id and environment, a connected app's client and grant (docs/architecture.md,
 * The principal).
 */
interface BearerPrincipal {
  userId: string;
  orgId: string;
  /** What the bearer may do now: its own scopes within its user's current role. */
  scopes: string[];
  /** The user's current role in the organization. */
  role: Role;
  /** What the bearer may make and spend: its own limits over its plan's over the deployment's. */
  limits: EffectiveLimits;
  issuedAt: Date;
  expiresAt: Date | null;
}

export interface KeyPrincipal extends BearerPrincipal {
  kind: 'api_key';
  keyId: string;
  env: KeyEnv;
}

export interface OAuthPrincipal extends BearerPrincipal {
  kind: 'oauth';
  clientId: string;
  grantId: string;
}

export type Principal = KeyPrincipal | OAuthPrincipal;

/**
 * Who a console session is (domain/session.ts): `{user, org, scopes}` as a bearer's, with every
 * scope its user's current role allows in the organization it acts in.
 */
export interface SessionPrincipal {
  kind: 'session';
  sessionId: string;
  userId: string;
  orgId: string;
  role: Role;
  scopes: string[];
}

/** The kinds of credential an action can be taken with (Credential below). */
export const CREDENTIAL_KINDS = ['api_key', 'oauth', 'session', 'cli', 'import', 'oauth_client'] as const;

/** How an action was authenticated, for the audit log. */
export type Credential =
  | { kind: 'api_key'; keyId: string }
  | { kind: 'oauth'; clientId: string; grantId: string }
  /** A person in the console; `sessionId` is the session's public id. */
  | { kind: 'session'; sessionId: string }
  | { kind: 'cli' }
  | { kind: 'import' }
  /** An OAuth client reporting a leaked key at /oauth/revoke (RFC 7009). */
  | { kind: 'oauth_client'; clientId: string };

export function credentialOf(principal: Principal): Credential {
  return principal.kind === 'api_key'
    ? { kind: 'api_key', keyId: principal.keyId }
    : { kind: 'oauth', clientId: principal.clientId, grantId: principal.grantId };
}

/** Whoever performs a management action: a bearer's principal, or an operator at the CLI. */
export interface Actor {
  userId: string;
  orgId: string;
  role: Role;
  scopes: string[];
  credential: Credential;
}

export function actorOf(principal: Principal | SessionPrincipal): Actor {
  const credential: Credential = principal.kind === 'session' ? { kind: 'session', sessionId: principal.sessionId } : credentialOf(principal);
  return { userId: principal.userId, orgId: principal.orgId, role: principal.role, scopes: principal.scopes, credential };
}
