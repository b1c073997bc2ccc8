import { andThen, type Awaitable } from '../../domain/awaitable.ts';
import type { OAuthClient } from '../../domain/oauth.ts';
import type { Principal } from '../../domain/principal.ts';
import type { Authenticator } from './authenticator.ts';

/** RFC 7662 §2.2: the only thing said of a token that is not usable now. */
export const INACTIVE = Object.freeze({ active: false as const });

export interface ActiveIntrospection {
  active: true;
  kind: Principal['kind'];
  sub: string;
  org_id: string;
  scope: string;
  client_id?: string;
  key_id?: string;
  grant_id?: string;
  env?: string;
  iat: number;
  exp?: number;
  iss: string;
  token_type: 'Bearer';
}

export type Introspection = ActiveIntrospection | typeof INACTIVE;

/**
 * Who is this bearer? The one answer for resource servers, the same shape for API keys and OAuth
 * access tokens (docs/architecture.md, The principal). Anything not usable now — unknown, malformed, bad
 * checksum, expired, revoked, disabled, a disabled organization or client, another
 * organization's (for a resource server bound to one) — is `{"active":false}` and nothing else.
 * The token type hint is only a hint (RFC 7662 §2.1): every kind is looked up whatever it says.
 */
export class IntrospectionService {
  private readonly authenticator: Authenticator;
  private readonly issuer: string;
  private readonly answers = new WeakMap<Principal, ActiveIntrospection>();

  constructor(authenticator: Authenticator, issuer: string) {
    this.authenticator = authenticator;
    this.issuer = issuer;
  }

  /** Answered at once when the bearer is in the principal cache. */
  introspect(caller: OAuthClient, token: string): Awaitable<Introspection> {
    if (token.length === 0) return INACTIVE;
    return andThen(this.authenticator.lookup(token, `via ${caller.name}`), (resolution) => {
      if (resolution.status !== 'active') return INACTIVE;
      const p = resolution.principal;
      if (caller.orgId !== null && caller.orgId !== p.orgId) return INACTIVE;
      return this.describe(p);
    });
  }

  /**
   * The principal as introspection shows it. One answer per principal object: a cached bearer's
   * principal is the same object on every hit, so the same answer (and, for the HTTP layer, the
   * same serialisation) serves them all.
   */
  describe(p: Principal): ActiveIntrospection {
    const known = this.answers.get(p);
    if (known) return known;
    const answer: ActiveIntrospection = Object.freeze({
      active: true,
      kind: p.kind,
      sub: p.userId,
      org_id: p.orgId,
      scope: p.scopes.join(' '),
      ...(p.kind === 'oauth' ? { client_id: p.clientId, grant_id: p.grantId } : { key_id: p.keyId, env: p.env }),
      iat: Math.floor(p.issuedAt.getTime() / 1000),
      ...(p.expiresAt ? { exp: Math.floor(p.expiresAt.getTime() / 1000) } : {}),
      iss: this.issuer,
      token_type: 'Bearer',
    } as const);
    this.answers.set(p, answer);
    return answer;
  }
}
