import type { Middleware } from 'koa';
import { AppError } from '../../errors/index.ts';

const LIMIT_BYTES = 16 * 1024;

/** application/x-www-form-urlencoded bodies of the interaction pages, at most 16 KiB. */
export function formBody(): Middleware {
  return async (ctx, next) => {
    if (!ctx.is('application/x-www-form-urlencoded')) throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Expected a form submission');
    if ((ctx.request.length ?? 0) > LIMIT_BYTES) throw new AppError('PAYLOAD_TOO_LARGE', 'Form too large');
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > LIMIT_BYTES) throw new AppError('PAYLOAD_TOO_LARGE', 'Form too large');
      chunks.push(chunk);
    }
    ctx.state.form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    await next();
  };
}
