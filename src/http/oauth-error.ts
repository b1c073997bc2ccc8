/**
 * The OAuth errors Tessera's own code answers at the OAuth endpoints (introspection, and its
 * middleware before the provider's token and revocation endpoints), one per RFC 6749 §5.2 code:
 * each with its status and headers. oidc-provider answers its own.
 */
import type { Context } from 'koa';

export interface OAuthErrorReply {
  status: number;
  body: { error: string; error_description: string };
  headers: Record<string, string>;
}

const reply = (status: number, error: string, description: string, headers: Record<string, string> = {}): OAuthErrorReply => ({
  status,
  body: { error, error_description: description },
  headers,
});

/** RFC 6749 §5.2: the client did not authenticate (RFC 7235 §4.1: with a challenge). */
export const invalidClient = (): OAuthErrorReply => reply(401, 'invalid_client', 'client authentication failed', { 'WWW-Authenticate': 'Basic realm="tessera"' });

export const invalidRequest = (description: string): OAuthErrorReply => reply(400, 'invalid_request', description);

/**
 * A store is unreachable: retry later (RFC 6749 §4.1.2.1's code, with RFC 9110 §10.2.3's
 * Retry-After). Never a 4xx, on which connectors disconnect the user.
 */
export const temporarilyUnavailable = (description = 'Try again shortly'): OAuthErrorReply =>
  reply(503, 'temporarily_unavailable', description, { 'Retry-After': '5' });

/** Too many failed client authentications from here (RFC 6585 §4: 429 with Retry-After). */
export const slowDown = (retryAfterSeconds: number): OAuthErrorReply =>
  reply(429, 'slow_down', 'Too many failed client authentications', { 'Retry-After': String(retryAfterSeconds) });

/** Writes an OAuth error onto a Koa response. */
export function writeOAuthError(ctx: Context, error: OAuthErrorReply): void {
  ctx.status = error.status;
  ctx.set(error.headers);
  ctx.body = error.body;
}
