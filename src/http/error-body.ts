import type { Context } from 'koa';
import { httpStatusFor, type AppError } from '../errors/index.ts';

/** Writes an AppError as DESIGN.md's body `{"error":{"code","message"}}` with its headers. */
export function writeError(ctx: Context, error: AppError): void {
  ctx.status = httpStatusFor(error.code);
  for (const [name, value] of Object.entries(error.headers)) ctx.set(name, value);
  if (error.code === 'UNAUTHORIZED') ctx.set('WWW-Authenticate', 'Bearer');
  if (error.retryAfterSeconds !== undefined) ctx.set('Retry-After', String(Math.ceil(error.retryAfterSeconds)));
  const body: { code: string; message: string; field?: string } = { code: error.code, message: error.message };
  if (error.field !== undefined) body.field = error.field;
  ctx.body = { error: body };
}
