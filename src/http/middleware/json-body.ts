import type { Context, Middleware } from 'koa';
import { AppError } from '../../errors/index.ts';
import { isClientAbort } from '../client-abort.ts';

export interface JsonBodyOptions {
  limitBytes: number;
}

/**
 * Strict JSON body reading for the API routes: only application/json (415 otherwise), at most
 * `limitBytes` (413, checked against Content-Length first and then while streaming, so an
 * oversized body is never buffered whole), valid JSON (400). An absent or empty body leaves
 * `ctx.state.body` undefined: routes decide whether that is allowed.
 */
export function jsonBody(options: JsonBodyOptions): Middleware {
  return async (ctx, next) => {
    ctx.state.body = await readJson(ctx, options.limitBytes);
    await next();
  };
}

async function readJson(ctx: Context, limitBytes: number): Promise<unknown> {
  const length = ctx.request.length;
  const chunked = ctx.get('Transfer-Encoding') !== '';
  if (!chunked && (length === undefined || length === 0)) return undefined;
  if (length !== undefined && length > limitBytes) throw tooLarge(limitBytes);
  if (!ctx.is('application/json')) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json');
  }
  const raw = await readLimited(ctx, limitBytes);
  if (raw.trim() === '') return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new AppError('BAD_REQUEST', 'Request body is not valid JSON');
  }
}

async function readLimited(ctx: Context, limitBytes: number): Promise<string> {
  const buffer = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const req = ctx.req;
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > limitBytes) {
        // Stop reading (nothing more is buffered) but keep the socket open long enough to send
        // the 413; the connection is closed after it rather than drained.
        cleanup();
        req.pause();
        ctx.set('Connection', 'close');
        reject(tooLarge(limitBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(isClientAbort(error, req) ? error : new AppError('BAD_REQUEST', 'Request body could not be read', { cause: error }));
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buffer);
  } catch {
    throw new AppError('BAD_REQUEST', 'Request body is not valid UTF-8');
  }
}

function tooLarge(limitBytes: number): AppError {
  return new AppError('PAYLOAD_TOO_LARGE', `Request body must not exceed ${limitBytes} bytes`);
}
