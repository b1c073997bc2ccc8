/**
 * A connector (what Zapier or Make is to a product), played from the terminal against a running
 * Tessera: the authorization code flow with PKCE (RFC 6749 §4.1, RFC 7636) to a loopback redirect
 * URI it listens on (RFC 8252 §7.3), the code exchanged with client_secret_basic (RFC 6749
 * §2.3.1), and the principal the access token resolves to. `npm run -s tessera -- demo` runs it.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { authorizeUrl, pkcePair } from './services/demo/demo-walkthrough.ts';

export interface ConnectorRun {
  baseUrl: string;
  client: { id: string; secret: string; redirectUri: string };
  /** What to ask for; by default every API scope the server advertises but the audit log's, and a refresh token. */
  scope?: string;
  /** Where the story of the run goes (the URL to open, what happened). */
  say: (line: string) => void;
  /** How long to wait for the browser. */
  timeoutMs?: number;
}

export interface ConnectorResult {
  /** The token endpoint's answer. */
  token: Record<string, unknown>;
  /** GET /api/v1/me with the access token. */
  me: unknown;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export async function playConnector(run: ConnectorRun): Promise<ConnectorResult> {
  const redirect = new URL(run.client.redirectUri);
  if (redirect.protocol !== 'http:' || !LOOPBACK.has(redirect.hostname) || redirect.port === '') {
    throw new Error(`the demo connector listens on its redirect URI, which must be http on a loopback address with a port (got ${run.client.redirectUri})`);
  }
  const scope = run.scope ?? (await advertisedScope(run.baseUrl));
  const pkce = pkcePair();
  const state = randomBytes(12).toString('base64url');
  const callback = waitForCode(redirect, state, run.timeoutMs ?? 300_000);
  run.say(`Open this URL in a browser, sign in and allow (waiting on ${redirect.origin}${redirect.pathname}):\n\n  ${authorizeUrl(run.baseUrl, run.client, scope, pkce, state)}\n`);
  const code = await callback;
  run.say('Got the code; exchanging it for tokens.');
  const token = await post(new URL('/oauth/token', run.baseUrl), run.client, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: run.client.redirectUri,
    code_verifier: pkce.verifier,
  });
  const me = await fetch(new URL('/api/v1/me', run.baseUrl), { headers: { authorization: `Bearer ${String(token.access_token)}` } });
  if (!me.ok) throw new Error(`/api/v1/me answered ${me.status} to the new access token`);
  run.say('Connected: the access token resolves to this principal.');
  return { token, me: await me.json() };
}

/** The API scopes of the server's discovery document (RFC 8414 §2), with offline_access. */
async function advertisedScope(baseUrl: string): Promise<string> {
  const res = await fetch(new URL('/.well-known/oauth-authorization-server', baseUrl));
  if (!res.ok) throw new Error(`no authorization server metadata at ${baseUrl} (${res.status}): is Tessera running there?`);
  const metadata = (await res.json()) as { scopes_supported?: string[] };
  const api = (metadata.scopes_supported ?? []).filter((s) => s.includes(':') && s !== 'audit:read');
  return [...api, 'offline_access'].join(' ');
}

/** Listens on the redirect URI until the browser arrives with this state's code. */
function waitForCode(redirect: URL, state: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', redirect.origin);
      if (url.pathname !== redirect.pathname) {
        res.writeHead(404).end();
        return;
      }
      const code = url.searchParams.get('code');
      const error = url.searchParams.get('error');
      const ok = code !== null && url.searchParams.get('state') === state;
      res.writeHead(ok ? 200 : 400, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(ok ? 'Tessera demo connector: connected. You can close this tab.\n' : `Tessera demo connector: not connected (${error ?? 'wrong state'}).\n`);
      finish(ok ? null : new Error(`the authorization ended without a code: ${error ?? 'state mismatch'} ${url.searchParams.get('error_description') ?? ''}`.trim()), code);
    });
    const timer = setTimeout(() => finish(new Error(`no browser came back within ${timeoutMs / 1000} s`), null), timeoutMs);
    const finish = (error: Error | null, code: string | null): void => {
      clearTimeout(timer);
      server.close();
      server.closeAllConnections();
      if (error) reject(error);
      else resolve(code!);
    };
    server.once('error', (error: NodeJS.ErrnoException) =>
      finish(new Error(error.code === 'EADDRINUSE' ? `${redirect.host} is in use: stop what listens there, or register another --redirect-uri` : error.message), null),
    );
    server.listen(Number(redirect.port), redirect.hostname.replace(/^\[|\]$/g, ''));
  });
}

async function post(url: URL, client: { id: string; secret: string }, form: Record<string, string>): Promise<Record<string, unknown>> {
  const encode = (s: string) => encodeURIComponent(s).replaceAll('%20', '+');
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${encode(client.id)}:${encode(client.secret)}`).toString('base64')}` },
    body: new URLSearchParams(form),
  });
  const body = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`the token endpoint answered ${res.status}: ${String(body.error)} ${String(body.error_description ?? '')}`.trim());
  return body;
}
