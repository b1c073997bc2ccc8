/** OAuth clients and connected apps (the grants users gave them). */
import type { CredentialLimits } from './limits.ts';

export const CLIENT_TYPES = ['connector', 'resource_server'] as const;
export type ClientType = (typeof CLIENT_TYPES)[number];

/**
 * A registered OAuth client. Connectors (Zapier, Make) obtain tokens through the authorization
 * code flow; resource servers only authenticate to introspection and obtain no tokens.
 */
export interface OAuthClient {
  id: string;
  name: string;
  type: ClientType;
  /** Hex SHA-256 of the client secret: the secret has 256 random bits, so a fast hash suffices. */
  secretHash: string;
  /** Matched exactly: no prefix, case or trailing-slash leniency. */
  redirectUris: string[];
  /** The scopes this client may ask for. */
  scopes: string[];
  disabled: boolean;
  /**
   * For a resource server: the one organization whose bearers it may learn about (a per-customer
   * deployment); other organizations' bearers introspect as inactive. Null: any organization.
   */
  orgId: string | null;
  createdAt: Date;
}

/**
 * A connected app: one OAuth grant of a user to a client, bound to the organization the user
 * chose at consent. Its id is the grant id; revoking it revokes every token of the grant.
 */
export interface ConnectedApp {
  id: string;
  userId: string;
  orgId: string;
  clientId: string;
  scopes: string[];
  /** The app's own limits (domain/limits.ts): null fields fall back to its organization's plan. */
  limits: CredentialLimits;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** A connected app as authentication reads it: without its last use, which is kept apart. */
export type ConnectedAppRecord = Omit<ConnectedApp, 'lastUsedAt'>;
