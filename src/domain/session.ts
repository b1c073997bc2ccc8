/**
 * Console sessions: the third kind of credential, beside API keys and OAuth access tokens. A
 * person signs in with their password and gets a random token in an HttpOnly cookie; only its
 * SHA-256 is stored (as keys are). A session acts for its user in one organization at a time,
 * with everything the user's current role allows there — the same principal and the same role
 * rules as a bearer.
 *
 * A session ends at the first of: sign-out, its absolute lifetime, or an idle time without a
 * request. Ending it deletes the record, so that every instance refuses it at its next request.
 */

export interface SessionRecord {
  /** SHA-256 (hex) of the cookie's token. */
  id: string;
  /** A public name for the session (`ses_…`), for the audit log and the sessions a user sees. */
  publicId: string;
  userId: string;
  /** The organization the session acts in now (the organization switcher changes it). */
  orgId: string;
  createdAt: Date;
  /** Written at most once a minute (see SessionService): idle expiry is that coarse. */
  lastSeenAt: Date;
  /** The absolute end, however active the session is. */
  expiresAt: Date;
  /** The client address it was signed in from, and its user agent (trimmed), for the person to recognise it. */
  createdFrom: string;
  userAgent: string;
}

export interface SessionLifetimes {
  idleMs: number;
  absoluteMs: number;
}

export type SessionState = 'active' | 'expired' | 'idle';

/** Whether a session may still be used at `now`. */
export function sessionState(session: SessionRecord, now: Date, lifetimes: SessionLifetimes): SessionState {
  if (session.expiresAt.getTime() <= now.getTime()) return 'expired';
  if (session.lastSeenAt.getTime() + lifetimes.idleMs <= now.getTime()) return 'idle';
  return 'active';
}
