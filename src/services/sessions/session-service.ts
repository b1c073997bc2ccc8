import { randomBytes } from 'node:crypto';
import type { Organization, Role } from '../../domain/accounts.ts';
import { newId } from '../../domain/ids.ts';
import { hashKey } from '../../domain/key-hash.ts';
import type { SessionPrincipal } from '../../domain/principal.ts';
import type { ScopeCatalog } from '../../domain/scopes.ts';
import { sessionState, type SessionLifetimes, type SessionRecord } from '../../domain/session.ts';
import { NotFoundError } from '../../errors/index.ts';
import type { Clock, SessionStore } from '../../ports.ts';
import type { AccountService } from '../accounts/account-service.ts';
import type { PasswordSignIn } from '../accounts/password-sign-in.ts';
import type { MemberCheck } from '../authentication/member-check.ts';

/** How often a session's lastSeenAt is written: idle expiry is this coarse, and a busy session costs one write a minute. */
const SEEN_WRITE_MS = 60_000;
/** 32 random bytes, base64url: 256 bits. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const USER_AGENT_MAX = 200;

export interface SessionServiceDeps {
  sessions: SessionStore;
  accounts: AccountService;
  signIn: PasswordSignIn;
  members: MemberCheck;
  catalog: ScopeCatalog;
  clock: Clock;
  lifetimes: SessionLifetimes;
}

export type SessionSignIn =
  | { kind: 'signed-in'; token: string; session: SessionRecord }
  | { kind: 'wrong-credentials' }
  | { kind: 'throttled'; retryAfterSeconds: number }
  /** The password was right, but the user belongs to no organization that is not disabled. */
  | { kind: 'no-organization' };

/** The organizations a person may switch to, for the switcher. */
export interface SessionOrganization {
  id: string;
  name: string;
  role: Role;
}

export type SessionResolution =
  | { status: 'active'; principal: SessionPrincipal; session: SessionRecord; organizations: SessionOrganization[] }
  /** Signed in, but the organization the session acts in is disabled: the person may switch. */
  | { status: 'organization-disabled'; principal: SessionPrincipal; session: SessionRecord; organizations: SessionOrganization[] }
  | { status: 'none' };

/**
 * Console sessions (domain/session.ts): signing in with a password (under the same throttle as
 * every sign-in), who a session's cookie is, switching organization, signing out. A session's
 * principal is its user's in the organization it acts in, with every scope the user's current
 * role allows there — looked up on every request, so that a role change, a removal or a disabled
 * user takes effect at the next one. A new session is made at every sign-in, never an existing
 * one reused (session fixation).
 */
export class SessionService {
  private readonly deps: SessionServiceDeps;

  constructor(deps: SessionServiceDeps) {
    this.deps = deps;
  }

  async signIn(input: { email: string; password: string; clientAddress: string; userAgent: string }): Promise<SessionSignIn> {
    const outcome = await this.deps.signIn.signIn(input.email, input.password, input.clientAddress);
    if (outcome.kind !== 'signed-in') return outcome;
    const organizations = await this.organizationsOf(outcome.user.id);
    const first = organizations[0];
    if (!first) return { kind: 'no-organization' };
    const now = this.deps.clock.now();
    const token = randomBytes(32).toString('base64url');
    const session: SessionRecord = {
      id: hashKey(token),
      publicId: newId('ses'),
      userId: outcome.user.id,
      orgId: first.id,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: new Date(now.getTime() + this.deps.lifetimes.absoluteMs),
      createdFrom: input.clientAddress,
      userAgent: input.userAgent.slice(0, USER_AGENT_MAX),
    };
    await this.deps.sessions.insert(session);
    return { kind: 'signed-in', token, session };
  }

  /** Who the session of this cookie is now; an expired or idle session is ended on the way. */
  async resolve(token: string): Promise<SessionResolution> {
    if (!TOKEN_PATTERN.test(token)) return { status: 'none' };
    const id = hashKey(token);
    let session = await this.deps.sessions.findById(id);
    if (!session) return { status: 'none' };
    const now = this.deps.clock.now();
    if (sessionState(session, now, this.deps.lifetimes) !== 'active') {
      await this.deps.sessions.delete(id);
      return { status: 'none' };
    }
    const standing = await this.deps.members.standing(session.userId, session.orgId);
    if ('reason' in standing) {
      // A disabled user is signed out; one removed from this organization moves to another.
      const other = standing.reason === 'not-a-member' ? (await this.organizationsOf(session.userId))[0] : undefined;
      if (!other) {
        await this.deps.sessions.delete(id);
        return { status: 'none' };
      }
      session = (await this.deps.sessions.update(id, { orgId: other.id })) ?? session;
      return this.resolve(token);
    }
    if (now.getTime() - session.lastSeenAt.getTime() >= SEEN_WRITE_MS) session = (await this.deps.sessions.update(id, { lastSeenAt: now })) ?? session;
    const principal: SessionPrincipal = {
      kind: 'session',
      sessionId: session.publicId,
      userId: session.userId,
      orgId: session.orgId,
      role: standing.role,
      scopes: this.deps.catalog.allowedFor(standing.role),
    };
    const organizations = await this.organizationsOf(session.userId);
    return { status: standing.orgDisabled ? 'organization-disabled' : 'active', principal, session, organizations };
  }

  /** Moves the session to another of its user's organizations (404 for any other). */
  async switchOrganization(token: string, orgId: string): Promise<void> {
    const session = await this.deps.sessions.findById(hashKey(token));
    if (!session) throw new NotFoundError('Session');
    const allowed = await this.organizationsOf(session.userId);
    if (!allowed.some((o) => o.id === orgId)) throw new NotFoundError('Organization');
    await this.deps.sessions.update(session.id, { orgId });
  }

  /** Ends the session of this cookie: every instance refuses it from its next request on. */
  async signOut(token: string): Promise<void> {
    if (TOKEN_PATTERN.test(token)) await this.deps.sessions.delete(hashKey(token));
  }

  /** Ends every session of the user of this one (signed in on other devices too). */
  async signOutEverywhere(principal: SessionPrincipal): Promise<number> {
    return this.deps.sessions.deleteForUser(principal.userId);
  }

  /** The organizations a user may act in now, as the switcher lists them. */
  private async organizationsOf(userId: string): Promise<SessionOrganization[]> {
    const all = await this.deps.accounts.organizationsOf(userId);
    return all
      .filter((o): o is { organization: Organization; role: Role } => !o.organization.disabled)
      .map((o) => ({ id: o.organization.id, name: o.organization.name, role: o.role }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }
}
