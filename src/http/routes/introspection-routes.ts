import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { ClientAuthenticator } from '../../services/client-authenticator.ts';
import type { FailureThrottle } from '../../services/failure-throttle.ts';
import type { IntrospectionService } from '../../services/introspection-service.ts';
import { clientCredentials } from '../client-credentials.ts';
import { formBody } from '../middleware/form-body.ts';

const INACTIVE_BODY = '{"active":false}';

/**
 * POST /oauth/introspect (RFC 7662): resource servers ask who a bearer is. Only clients of type
 * resource_server may ask; anyone else gets 401 invalid_client (RFC 6749 §5.2), and repeated
 * failures from one address are throttled.
 */
export function introspectionRoutes(introspection: IntrospectionService, clients: ClientAuthenticator, throttle: FailureThrottle): Router {
  const router = new Router();
  router.post('/oauth/introspect', formBody(), authenticateResourceServer(clients, throttle), async (ctx) => {
    const form = ctx.state.form as URLSearchParams;
    const token = form.get('token');
    if (token === null) {
      oauthError(ctx, 400, 'invalid_request', 'token is required');
      return;
    }
    const answer = await introspection.introspect(ctx.state.client, token);
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Pragma', 'no-cache');
    ctx.type = 'application/json';
    ctx.body = answer.active ? JSON.stringify(answer) : INACTIVE_BODY;
  });
  return router;
}

function authenticateResourceServer(clients: ClientAuthenticator, throttle: FailureThrottle): Middleware {
  return async (ctx, next) => {
    const address = `client:${ctx.ip}`;
    const wait = throttle.blocked(address);
    if (wait !== null) {
      ctx.set('Retry-After', String(wait));
      oauthError(ctx, 429, 'slow_down', 'Too many failed client authentications');
      return;
    }
    const credentials = clientCredentials(ctx, ctx.state.form as URLSearchParams);
    const client = credentials ? await clients.authenticate(credentials) : null;
    if (!client || client.type !== 'resource_server') {
      await throttle.failed(address);
      ctx.set('WWW-Authenticate', 'Basic realm="tessera"');
      oauthError(ctx, 401, 'invalid_client', 'client authentication failed');
      return;
    }
    ctx.state.client = client;
    await next();
  };
}

/** RFC 6749 §5.2 error body. */
export function oauthError(ctx: Context, status: number, error: string, description: string): void {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error, error_description: description };
}
