import type { Middleware } from 'koa';
import { AppError, isAppError } from '../../errors/index.ts';
import type { Logger } from '../../logger.ts';
import { isClientAbort } from '../client-abort.ts';
import type { ErrorProfile } from '../../domain/profile.ts';
import { writeError } from '../error-body.ts';

interface HttpLikeError {
  status?: number;
  expose?: boolean;
  message?: string;
}

/** Errors thrown by libraries (koa's ctx.throw, http-errors) mapped onto our closed set of codes. */
function fromHttpStatus(status: number): AppError | null {
  switch (status) {
    case 400:
      return new AppError('BAD_REQUEST', 'Bad request');
    case 404:
      return new AppError('NOT_FOUND', 'Not found');
    case 405:
      return new AppError('METHOD_NOT_ALLOWED', 'Method not allowed');
    case 413:
      return new AppError('PAYLOAD_TOO_LARGE', 'Request body is too large');
    case 415:
      return new AppError('UNSUPPORTED_MEDIA_TYPE', 'Unsupported content type');
    default:
      return null;
  }
}

/**
 * Turns whatever a handler throws into the profile's error body (docs/architecture.md, Errors). Unknown errors become a plain 500:
 * the stack goes to the log (which never carries request secrets), never into the response.
 */
export function errorHandler(logger: Logger, errors: ErrorProfile): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        writeError(ctx, new AppError('NOT_FOUND', `No route for ${ctx.method} ${ctx.path}`), errors);
      }
    } catch (error) {
      if (isClientAbort(error, ctx.req)) {
        // Nobody is left to answer: not a failure of the server (the access line says 499 or 408).
        ctx.state.clientAborted = true;
        logger.info({ requestId: ctx.state.requestId, method: ctx.method, path: ctx.path }, 'client aborted the request');
        return;
      }
      if (isAppError(error)) {
        if (error.code === 'UNAVAILABLE') logger.warn({ requestId: ctx.state.requestId, err: causeSummary(error) }, error.message);
        writeError(ctx, error, errors);
        return;
      }
      const status = (error as HttpLikeError)?.status;
      const mapped = typeof status === 'number' ? fromHttpStatus(status) : null;
      if (mapped) {
        writeError(ctx, mapped, errors);
        return;
      }
      logger.error({ requestId: ctx.state.requestId, err: error }, 'unhandled error');
      writeError(ctx, new AppError('INTERNAL', 'Internal server error'), errors);
    }
  };
}

function causeSummary(error: AppError): string | undefined {
  const cause = error.cause as Error | undefined;
  return cause ? `${cause.name}: ${cause.message}` : undefined;
}
