import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * CSRF tokens for the server-rendered forms: an HMAC, under the server's cookie key, of what the
 * form belongs to — an OAuth interaction, a console session, a sign-in page's own cookie. A token
 * is useless for any other subject, and nobody without the key can make one. Forms are also
 * protected by their cookies being SameSite=Lax (a cross-site POST carries none).
 */
export function csrfToken(key: string, subject: string): string {
  return createHmac('sha256', key).update(subject).digest('base64url');
}

export function csrfMatches(key: string, subject: string, presented: string | null | undefined): boolean {
  const expected = Buffer.from(csrfToken(key, subject));
  const actual = Buffer.from(presented ?? '');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
