import type { ClientCredentials } from '../services/authentication/client-authenticator.ts';

/**
 * Client credentials of an OAuth request: HTTP Basic (RFC 6749 §2.3.1, form-urlencoded id and
 * secret) or client_id + client_secret in the body — one or the other, never both.
 */
export function clientCredentials(header: string | undefined, form: URLSearchParams): ClientCredentials | null {
  const inBody = form.has('client_secret');
  if (header) return inBody ? null : basicCredentials(header);
  const clientId = form.get('client_id');
  const clientSecret = form.get('client_secret');
  return clientId && clientSecret ? { clientId, clientSecret } : null;
}

/** RFC 6749 §2.3.1: `Basic base64(urlencoded(id) ":" urlencoded(secret))`. */
function basicCredentials(header: string): ClientCredentials | null {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header);
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return null;
  try {
    const decode = (part: string) => decodeURIComponent(part.replaceAll('+', '%20'));
    return { clientId: decode(decoded.slice(0, colon)), clientSecret: decode(decoded.slice(colon + 1)) };
  } catch {
    return null;
  }
}
