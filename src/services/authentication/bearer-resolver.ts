import type { Role } from '../../domain/accounts.ts';
import { inspectKey, type KeyFormat } from '../../domain/api-key-format.ts';
import { keyState, type ApiKeyRecord } from '../../domain/api-key.ts';
import { effectiveLimits, NO_LIMITS, type CredentialLimits, type PlanLimits } from '../../domain/limits.ts';
import type { Clock } from '../../domain/clock.ts';
import { hashKey } from '../../domain/key-hash.ts';
import type { KeyPrincipal, OAuthPrincipal } from '../../domain/principal.ts';
import { inactive, type Resolution } from '../../domain/resolution.ts';
import { intersectScopes, type ScopeCatalog } from '../../domain/scopes.ts';
import type { AccessTokenInfo, AccessTokenLookup, ApiKeyStore, ClientStore, ConnectedAppStore } from '../../ports.ts';
import type { MemberCheck } from './member-check.ts';
import type { SharedRecordCache } from '../caching/shared-record-cache.ts';
import type { RevocationMarkers } from '../revocation/revocation-markers.ts';

/** Longest bearer looked at; anything longer is malformed without further work. */
export const MAX_BEARER_LENGTH = 512;
const PRINTABLE = /^[\x21-\x7e]+$/;

export interface BearerResolverDeps {
  apiKeys: ApiKeyStore;
  /** Whether the bearer's user may act in its organization, and with which role. */
  members: MemberCheck;
  catalog: ScopeCatalog;
  format: KeyFormat;
  clock: Clock;
  accessTokens: AccessTokenLookup;
  connectedApps: ConnectedAppStore;
  clients: ClientStore;
  markers: RevocationMarkers;
  /** Clients, read once for the tokens that share them. */
  shared: SharedRecordCache;
  plans: Readonly<Record<string, PlanLimits>>;
  defaultLimits: CredentialLimits;
}

/**
 * Who is this bearer, according to the store of record? Resolves an API key, or an OAuth access
 * token of a connected app, to one principal: the bearer's scopes within what its user's current
 * role allows, in the organization the key or the grant is bound to. Every unusable case is one
 * answer. The principal cache wraps it (caching/principal-cache.ts); it knows no cache.
 */
export class BearerResolver {
  private readonly deps: BearerResolverDeps;

  constructor(deps: BearerResolverDeps) {
    this.deps = deps;
  }

  /** The principal of a bearer, or why there is none. Reads the store of record. */
  async resolve(bearer: string): Promise<Resolution> {
    if (bearer.length === 0 || bearer.length > MAX_BEARER_LENGTH || !PRINTABLE.test(bearer)) return inactive('malformed');
    const shape = inspectKey(this.deps.format, bearer).kind;
    // A key of our shape with a failing checksum is refused before any lookup.
    if (shape === 'bad-checksum') return inactive('bad-checksum', undefined, 'api_key');
    // A bearer not of the key shape may be a connected app's access token (looked up only when it
    // has a token's shape) or a key imported from elsewhere. Tokens first: they are what most
    // such bearers are, and a token found costs no key lookup.
    const token = shape === 'foreign' ? await this.deps.accessTokens.find(bearer) : null;
    if (token) return this.resolveToken(token);
    const hash = hashKey(bearer);
    // Redis knows revoked keys: no store round trip for them.
    if (await this.deps.markers.isKeyRevoked(hash)) return inactive('revoked', undefined, 'api_key');
    const key = await this.deps.apiKeys.findByHash(hash);
    // Of our key shape, it was a key; of another, nobody can tell.
    return key ? this.resolveKey(key) : inactive('unknown', undefined, shape === 'valid' ? 'api_key' : undefined);
  }

  private async resolveKey(key: ApiKeyRecord): Promise<Resolution> {
    const state = keyState(key, this.deps.clock.now());
    if (state !== 'usable') return inactive(state, key.orgId, 'api_key');
    const member = await this.deps.members.standing(key.userId, key.orgId);
    if ('reason' in member) return inactive(member.reason, key.orgId, 'api_key');
    const principal = this.keyPrincipal(key, member);
    const { readAt } = member;
    if (member.orgDisabled) return { status: 'forbidden', principal, reason: 'disabled_organization', readAt };
    return { status: 'active', principal, readAt };
  }

  private async resolveToken(token: AccessTokenInfo): Promise<Resolution> {
    if (await this.deps.markers.isGrantRevoked(token.grantId)) return inactive('grant-revoked', undefined, 'oauth');
    const [app, client] = await Promise.all([
      this.deps.connectedApps.findRecord(token.grantId),
      this.deps.shared.readRecord(`client:${token.clientId}`, () => this.deps.clients.findById(token.clientId)),
    ]);
    // A token whose grant is not (or no longer) a connected app was revoked.
    if (!app || app.revokedAt !== null || app.userId !== token.accountId) return inactive('grant-revoked', app?.orgId, 'oauth');
    const member = await this.deps.members.standing(app.userId, app.orgId);
    if ('reason' in member) return inactive(member.reason, app.orgId, 'oauth');
    const principal: OAuthPrincipal = {
      kind: 'oauth',
      userId: app.userId,
      orgId: app.orgId,
      scopes: this.deps.catalog.effective(intersectScopes(token.scopes, app.scopes), member.role),
      role: member.role,
      clientId: token.clientId,
      grantId: token.grantId,
      limits: effectiveLimits(app.limits ?? NO_LIMITS, this.deps.plans[member.plan], this.deps.defaultLimits),
      issuedAt: token.issuedAt,
      expiresAt: token.expiresAt,
    };
    const readAt = Math.min(member.readAt, client.readAt);
    if (!client.value || client.value.disabled) return { status: 'forbidden', principal, reason: 'disabled_client', readAt };
    if (member.orgDisabled) return { status: 'forbidden', principal, reason: 'disabled_organization', readAt };
    return { status: 'active', principal, readAt };
  }

  private keyPrincipal(key: ApiKeyRecord, { role, plan }: { role: Role; plan: string }): KeyPrincipal {
    return {
      kind: 'api_key',
      userId: key.userId,
      orgId: key.orgId,
      // What its scopes include, and never more than its user's current role allows.
      scopes: this.deps.catalog.effective(key.scopes, role),
      role,
      keyId: key.id,
      env: key.env,
      limits: effectiveLimits(key.limits ?? NO_LIMITS, this.deps.plans[plan], this.deps.defaultLimits),
      issuedAt: key.createdAt,
      expiresAt: key.expiresAt,
    };
  }
}
