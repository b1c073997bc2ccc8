/**
 * The closed set of answers of POST /v1/verify: why a bearer may or may not make a request, so
 * that a resource server answers 401, 402, 403 or 429 as its product documents — which
 * introspection's bare `{"active":false}` (RFC 7662 §2.2) cannot tell it. Shared by Tessera and
 * the resource-server kit.
 */
export const VERIFY_CODES = ['VALID', 'NOT_FOUND', 'EXPIRED', 'REVOKED', 'DISABLED', 'INSUFFICIENT_SCOPE', 'RATE_LIMITED', 'USAGE_EXCEEDED'] as const;
export type VerifyCode = (typeof VERIFY_CODES)[number];

export function isVerifyCode(value: unknown): value is VerifyCode {
  return typeof value === 'string' && (VERIFY_CODES as readonly string[]).includes(value);
}
