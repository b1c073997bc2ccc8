import type { Middleware } from 'koa';
import type { ErrorProfile } from '../domain/profile.ts';
import { accessLog, type Logger } from '../logger.ts';
import { clientAddressMiddleware } from './client-address.ts';
import { errorHandler } from './middleware/error-handler.ts';
import { requestId } from './middleware/request-id.ts';
import { requestLogger } from './middleware/request-logger.ts';
import { securityHeaders } from './middleware/security-headers.ts';

/**
 * What wraps every route, outermost first: the client's address (what throttles and the access
 * log see), the request id (so even errors carry it), the access log (which sees the final
 * status), the error handler (answering in the profile's `errors`), and the response headers.
 * `proxyHops`: how many trusted proxies stand in front (0: none; see clientAddress).
 */
export function baseMiddleware(logger: Logger, errors: ErrorProfile, proxyHops = 0): Middleware[] {
  return [clientAddressMiddleware(proxyHops), requestId(), requestLogger(accessLog(logger)), errorHandler(logger, errors), securityHeaders()];
}
