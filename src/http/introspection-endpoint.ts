import type { Introspection, IntrospectionService } from '../services/authentication/introspection-service.ts';
import { invalidRequest } from './oauth-error.ts';
import { serializedReply, type ResourceServerEndpoint } from './resource-server-handler.ts';

export const INTROSPECTION_PATH = '/oauth/introspect';
const INACTIVE_BODY = '{"active":false}';
const TOKEN_REQUIRED = serializedReply(invalidRequest('token is required'));

/**
 * POST /oauth/introspect (RFC 7662): a form with `token` (and a `token_type_hint`, only a hint);
 * client credentials in the Authorization header or the form (RFC 6749 §2.3.1).
 */
export function introspectionEndpoint(introspection: IntrospectionService): ResourceServerEndpoint<URLSearchParams> {
  return {
    path: INTROSPECTION_PATH,
    accepts: /^application\/x-www-form-urlencoded\b/i,
    expects: 'Expected a form submission',
    parse: (raw) => new URLSearchParams(raw),
    credentialsIn: (form) => form,
    answer: (client, form) => {
      const token = form.get('token');
      if (token === null) return TOKEN_REQUIRED;
      const result = introspection.introspect(client, token);
      return result instanceof Promise ? result.then(reply) : reply(result);
    },
  };
}

const reply = (result: Introspection) => ({ status: 200, body: serialized(result) });

const bodies = new WeakMap<Introspection, string>();

/** The introspection service answers a cached bearer with the same object each time: serialised once. */
function serialized(result: Introspection): string {
  if (!result.active) return INACTIVE_BODY;
  let body = bodies.get(result);
  if (body === undefined) bodies.set(result, (body = JSON.stringify(result)));
  return body;
}
