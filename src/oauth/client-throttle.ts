import type { Middleware } from 'koa';
import { clientCredentials } from '../http/client-credentials.ts';
import { slowDown, writeOAuthError } from '../http/oauth-error.ts';
import type { ClientAuthThrottle } from '../services/limits/client-auth-throttle.ts';

/**
 * Before the provider's token and revocation endpoints: a throttled address (or address for this
 * client_id) gets 429 with Retry-After before any secret is checked, and every `invalid_client`
 * the provider answers counts as a failure (see ClientAuthThrottle).
 */
export function clientThrottle(throttle: ClientAuthThrottle): Middleware {
  return async (ctx, next) => {
    const form = (ctx.state.oauthForm as URLSearchParams | undefined) ?? new URLSearchParams();
    const clientId = clientCredentials(ctx.get('Authorization') || undefined, form)?.clientId ?? form.get('client_id');
    const wait = throttle.blocked(ctx.ip, clientId);
    if (wait !== null) {
      writeOAuthError(ctx, slowDown(wait));
      return;
    }
    await next();
    if (ctx.status === 401 && (ctx.body as { error?: unknown } | undefined)?.error === 'invalid_client') await throttle.failed(ctx.ip, clientId);
  };
}
