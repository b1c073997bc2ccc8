import type { Context } from 'koa';
import { httpStatusFor, type AppError } from '../errors/index.ts';

/** An AppError as a response: its status, its headers and the one error body `{"error":{"code","message"}}`. */
export interface ErrorReply {
  status: number;
  headers: Record<string, string>;
  body: { error: { code: string; message: string; field?: string } };
}

export function errorReply(error: AppError): ErrorReply {
  const headers = { ...error.headers };
  if (error.code === 'UNAUTHORIZED') headers['WWW-Authenticate'] = 'Bearer';
  if (error.retryAfterSeconds !== undefined) headers['Retry-After'] = String(Math.ceil(error.retryAfterSeconds));
  const body: ErrorReply['body']['error'] = { code: error.code, message: error.message };
  if (error.field !== undefined) body.field = error.field;
  return { status: httpStatusFor(error.code), headers, body: { error: body } };
}

/** Writes an AppError onto a Koa response (see errorReply). */
export function writeError(ctx: Context, error: AppError): void {
  const reply = errorReply(error);
  ctx.status = reply.status;
  for (const [name, value] of Object.entries(reply.headers)) ctx.set(name, value);
  ctx.body = reply.body;
}
