import type { Middleware } from 'koa';
import { accessLog, type Logger } from '../logger.ts';
import { errorHandler } from './middleware/error-handler.ts';
import { requestId } from './middleware/request-id.ts';
import { requestLogger } from './middleware/request-logger.ts';
import { securityHeaders } from './middleware/security-headers.ts';

/**
 * What wraps every route, outermost first: the request id (so even errors carry it), the access
 * log (which sees the final status), the error handler, and the response headers.
 */
export function baseMiddleware(logger: Logger): Middleware[] {
  return [requestId(), requestLogger(accessLog(logger)), errorHandler(logger), securityHeaders()];
}
