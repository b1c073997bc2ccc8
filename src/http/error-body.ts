import type { Context } from 'koa';
import { errorBody, refusalFor, type BodyTemplate, type ErrorProfile } from '../domain/profile.ts';
import { BearerRefusedError, httpStatusFor, type AppError } from '../errors/index.ts';

/** An AppError as a response: its status, its headers and its body in the deployment's error shape. */
export interface ErrorReply {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/**
 * The shape of the endpoints between Tessera and resource servers (/oauth/introspect, /v1/verify),
 * whatever the profile: `{"error":{"code","message","field"}}`, the kit's to read.
 */
export const PROTOCOL_ERRORS: Pick<ErrorProfile, 'body'> = { body: { error: { code: '{code}', message: '{message}', field: '{field}' } } satisfies BodyTemplate };

/**
 * The one place an error becomes a status and a body. A refused bearer is answered as the
 * profile says for its reason and kind; any other error with its code's status
 * (src/errors/http-status.ts), in the profile's body. 401 carries `WWW-Authenticate: Bearer`
 * (RFC 6750 §3); a wait, `Retry-After` (RFC 9110 §10.2.3).
 */
export function errorReply(error: AppError, errors: Pick<ErrorProfile, 'body'> & Partial<ErrorProfile> = PROTOCOL_ERRORS): ErrorReply {
  const headers = { ...error.headers };
  if (error.retryAfterSeconds !== undefined) headers['Retry-After'] = String(Math.max(1, Math.ceil(error.retryAfterSeconds)));
  let reply: { status: number; code: string; message: string };
  if (error instanceof BearerRefusedError && errors.refusals) {
    const retryAfter = headers['Retry-After'];
    reply = refusalFor(errors as ErrorProfile, error.reason, error.bearerKind, { ...(retryAfter ? { retryAfter } : {}), ...(error.scope ? { scope: error.scope } : {}) });
  } else {
    reply = { status: httpStatusFor(error.code), code: error.code, message: error.message };
  }
  if (reply.status === 401) headers['WWW-Authenticate'] = 'Bearer';
  return { status: reply.status, headers, body: errorBody(errors, reply.status, reply.code, reply.message, error.field) };
}

/** Writes an AppError onto a Koa response (see errorReply). */
export function writeError(ctx: Context, error: AppError, errors: ErrorProfile): void {
  const reply = errorReply(error, errors);
  ctx.status = reply.status;
  for (const [name, value] of Object.entries(reply.headers)) ctx.set(name, value);
  ctx.body = reply.body;
}
