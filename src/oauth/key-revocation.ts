import type { Middleware } from 'koa';
import { clientCredentials } from '../http/client-credentials.ts';
import type { ApiKeyService } from '../services/keys/api-key-service.ts';
import type { ClientAuthenticator } from '../services/authentication/client-authenticator.ts';

/**
 * /oauth/revoke (RFC 7009) also takes API keys, from any authenticated client — connector or
 * resource server — because whoever holds a leaked key may report it. Anything that is not an
 * API key goes on to the provider's own revocation of OAuth tokens.
 */
export function apiKeyRevocation(keys: ApiKeyService, clients: ClientAuthenticator): Middleware {
  return async (ctx, next) => {
    const form = ctx.state.oauthForm as URLSearchParams | undefined;
    const token = form?.get('token');
    if (!form || !token) return next();
    const credentials = clientCredentials(ctx.get('Authorization') || undefined, form);
    const client = credentials ? await clients.authenticate(credentials) : null;
    if (!client || !(await keys.revokeReported(token, client.id))) return next();
    // §2.2: 200 whether or not the key was still valid.
    ctx.status = 200;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = '';
  };
}
